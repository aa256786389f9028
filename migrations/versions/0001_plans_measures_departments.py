"""Plans, sections, measures, targets, responsibilities and the department directory.

Revision ID: 0001
Revises:
Create Date: 2026-11-30 04:20:51.677404
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('functional_area', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.CheckConstraint("kind IN ('department', 'district', 'party', 'peoples_org')", name=op.f('ck_departments_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('name', name=op.f('uq_departments_name'))
    )

    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('doc_number', sa.String(length=100), nullable=True),
    sa.Column('plan_year', sa.Integer(), nullable=True),
    sa.Column('horizon', sa.Date(), nullable=True),
    sa.Column('source_name', sa.String(length=500), nullable=True),
    sa.Column('source_sha256', sa.String(length=64), nullable=True),
    sa.Column('source_text', sa.Text(), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'active')", name=op.f('ck_plans_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('key', name=op.f('uq_plans_key'))
    )

    op.create_table('department_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_department_aliases_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department_aliases')),
    sa.UniqueConstraint('alias', name=op.f('uq_department_aliases_alias'))
    )
    op.create_index(op.f('ix_department_aliases_department_id'), 'department_aliases', ['department_id'], unique=False)

    op.create_table('sections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=20), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_sections_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sections')),
    sa.UniqueConstraint('plan_id', 'number', name=op.f('uq_sections_plan_id_number'))
    )

    op.create_table('measures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=20), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=False),
    sa.Column('source_end_line', sa.Integer(), nullable=False),
    sa.Column('clause', sa.Text(), nullable=True),
    sa.Column('clause_line', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_measures_plan_id_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_measures_section_id_sections'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measures')),
    sa.UniqueConstraint('plan_id', 'number', name=op.f('uq_measures_plan_id_number'))
    )
    op.create_index(op.f('ix_measures_section_id'), 'measures', ['section_id'], unique=False)

    op.create_table('responsibilities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('named_as', sa.String(length=200), nullable=False),
    sa.Column('collective', sa.Boolean(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=False),
    sa.CheckConstraint("role IN ('lead', 'supporting')", name=op.f('ck_responsibilities_role')),
    sa.CheckConstraint('(collective AND department_id IS NULL) OR (NOT collective AND department_id IS NOT NULL)', name=op.f('ck_responsibilities_department_or_collective')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_responsibilities_department_id_departments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['measure_id'], ['measures.id'], name=op.f('fk_responsibilities_measure_id_measures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responsibilities')),
    sa.UniqueConstraint('measure_id', 'role', 'named_as', name=op.f('uq_responsibilities_measure_id_role_named_as'))
    )
    op.create_index(op.f('ix_responsibilities_department_id'), 'responsibilities', ['department_id'], unique=False)

    op.create_table('targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('measure_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('due', sa.Date(), nullable=True),
    sa.Column('due_text', sa.Text(), nullable=True),
    sa.Column('indicator', sa.Text(), nullable=True),
    sa.Column('comparator', sa.String(length=2), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=50), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('source_text', sa.Text(), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=False),
    sa.CheckConstraint("comparator IS NULL OR comparator IN ('>=', '>', '<=', '<', '=')", name=op.f('ck_targets_comparator')),
    sa.ForeignKeyConstraint(['measure_id'], ['measures.id'], name=op.f('fk_targets_measure_id_measures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targets'))
    )
    op.create_index(op.f('ix_targets_measure_id'), 'targets', ['measure_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_targets_measure_id'), table_name='targets')
    op.drop_table('targets')
    op.drop_index(op.f('ix_responsibilities_department_id'), table_name='responsibilities')
    op.drop_table('responsibilities')
    op.drop_index(op.f('ix_measures_section_id'), table_name='measures')
    op.drop_table('measures')
    op.drop_table('sections')
    op.drop_index(op.f('ix_department_aliases_department_id'), table_name='department_aliases')
    op.drop_table('department_aliases')
    op.drop_table('plans')
    op.drop_table('departments')
