"""Parse every plan of the corpus (tests/data/plans) and score it against its gold file.

Prints, per document: exact clauses / total, targets precision, recall and F1,
and what differs (with ``-v``). The parse uses the default rules and no
department directory, as a coordinator's first ``duban plan parse`` does.

    .venv/bin/python bench/parse_corpus.py [-v] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from duban.domain.errors import PlanParseError
from duban.domain.plan_parser import parse_plan
from tests.plan_corpus import Score, corpus_documents, failed, score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="show every difference")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    rows = []
    for document in corpus_documents():
        try:
            draft = parse_plan(document.text, source_name=document.text_path.name)
        except PlanParseError as err:  # a plan the parser refuses scores nothing
            result: Score = failed(document, str(err))
        else:
            result = score(document, draft)
        rows.append((document, result))
    if args.json:
        print(json.dumps([
            {"document": d.name, "region": d.gold.get("region"), "level": d.gold.get("level"),
             "year": d.gold.get("year"), "exact": s.exact, "total": s.total,
             "targets_precision": round(s.precision, 3), "targets_recall": round(s.recall, 3),
             "targets_f1": round(s.f1, 3)}
            for d, s in rows
        ], ensure_ascii=False, indent=2))
        return 0
    print(f"{'document':34} {'level':10} {'year':>4}  {'clauses':>9}  {'targets P/R/F1':>18}")
    exact = total = 0
    for document, result in rows:
        exact, total = exact + result.exact, total + result.total
        print(
            f"{document.name:34} {document.gold.get('level')!s:10} "
            f"{document.gold.get('year')!s:>4}  {result.exact:>3}/{result.total:<3} "
            f"{result.clause_rate:5.0%}  "
            f"{result.precision:5.2f}/{result.recall:4.2f}/{result.f1:4.2f}"
        )
        if result.error:
            print(f"    解析失败:{result.error}")
        if args.verbose:
            for line in [*result.wrong, *(f"{m}: 缺失" for m in result.missing),
                         *(f"{m}: 多出" for m in result.extra),
                         *(f"目标 {t} 缺失" for t in result.targets_missing),
                         *(f"目标 {t} 多出" for t in result.targets_extra)]:
                print(f"    {line}")
    print(f"{'all':34} {'':10} {'':>4}  {exact:>3}/{total:<3} {exact / total:5.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
