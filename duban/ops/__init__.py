"""Operations around the product: the production profile's supervisor (cluster), the
fault hooks tests and drills inject, and the demo's local mail sink."""
