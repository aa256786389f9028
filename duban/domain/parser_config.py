"""What the plan parser looks for, as data: patterns and word lists.

The defaults describe Chinese government work plans (工作方案/实施方案) as
they are usually printed. A plan in another house style is handled by a YAML
file with the keys of :class:`ParserConfig` (``duban plan parse --config``),
not by editing code. Patterns are matched against NFKC-normalised lines, so
full-width and half-width punctuation need not both be written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from duban.domain.errors import DubanError

CN_NUM = "[一二三四五六七八九十百零〇两]+"


@dataclass(frozen=True)
class ParserConfig:
    # --- document structure -------------------------------------------------
    # A top-level section heading: 一、加强……
    section_patterns: tuple[str, ...] = (rf"^(?P<label>{CN_NUM})、\s*(?P<title>.+)$",)
    # A second-level heading: (一)加强……
    subsection_patterns: tuple[str, ...] = (rf"^\((?P<label>{CN_NUM})\)\s*(?P<title>.+)$",)
    # A numbered item: 1.统筹…… / 1、统筹……  (not 1.5 or 2015.)
    item_patterns: tuple[str, ...] = (r"^(?P<label>\d{1,3})(?:\.(?!\d)|、)\s*(?P<title>.+)$",)
    # Which level carries the measures: "item", "subsection" or "auto" (the level
    # whose paragraphs carry responsibility clauses; items when tied).
    measure_level: str = "auto"
    # The document title: the last such line before the first heading.
    title_patterns: tuple[str, ...] = (
        r"^(?!.*[。;])(?P<title>.{4,80}(?:工作方案|实施方案|行动方案|方案|行动计划|工作计划|计划"
        r"|工作要点|要点|实施意见|意见|规划|办法|细则|通知))$",
    )
    # A document number: 珠委办〔2014〕23号 / 珠委办201423 / 粤府办[2015]8号
    doc_number_patterns: tuple[str, ...] = (
        r"^(?P<doc>[\u4e00-\u9fff]{1,10}\s*[〔\[(【]?\s*(?:19|20)\d{2}\s*[〕\])】]?\s*\d{1,4}\s*号?)$",
    )
    # Lines of web-page or print chrome that never belong to the plan body.
    chrome_patterns: tuple[str, ...] = (
        r"ICP备", r"公网安备", r"技术支持", r"版权所有", r"(?i)copyright", r"^当前位置",
        r"^首页", r"^【?打印", r"关闭窗口", r"^字号", r"^分享到", r"^来源[::]", r"^发布时间",
        r"^访问量", r"^浏览次数", r"^上一篇", r"^下一篇", r"^网站地图", r"^联系我们",
    )
    # --- responsibility clauses --------------------------------------------
    lead_verbs: tuple[str, ...] = ("牵头负责", "牵头", "负责", "主办", "主责")
    support_verbs: tuple[str, ...] = ("配合", "参与", "协办", "协助")
    lead_labels: tuple[str, ...] = ("牵头单位", "牵头部门", "主办单位", "主责单位", "牵头领导单位")
    support_labels: tuple[str, ...] = (
        "配合单位", "配合部门", "参与单位", "参与部门", "协办单位", "协助单位",
    )
    # Labels whose list names the lead first and the supporting after it,
    # unless the same measure also has a lead label.
    responsible_labels: tuple[str, ...] = ("责任单位", "责任部门", "实施单位", "承办单位")
    # Trailing words that close a name list: ……等单位 / 等相关单位.
    list_tails: tuple[str, ...] = (
        "等相关单位", "等有关单位", "等相关部门", "等有关部门", "等单位", "等部门", "等",
    )
    # Names that point at no one in particular.
    vague_names: tuple[str, ...] = (
        "各相关单位", "各有关单位", "相关单位", "有关单位", "各相关部门", "各有关部门",
        "相关部门", "有关部门", "各单位", "各部门",
    )
    # Conjunctions that join two names only when both sides look like names
    # (市海洋农业和水务局 stays whole).
    name_conjunctions: tuple[str, ...] = ("以及", "和", "及", "与")
    name_suffixes: tuple[str, ...] = (
        "局", "办", "委", "部", "会", "院", "厅", "处", "室", "所", "站", "中心", "团", "联",
        "区", "政府", "公司", "集团", "馆", "队", "署", "社", "行", "台", "镇", "街道",
    )
    # --- targets ------------------------------------------------------------
    # Fillers dropped from the start of an indicator (基本实现城乡…… → 城乡……).
    indicator_fillers: tuple[str, ...] = (
        "力争", "争取", "确保", "努力", "基本实现", "初步实现", "全面实现", "基本", "初步", "实现",
    )
    units: tuple[str, ...] = (
        "个百分点", "%", "‰", "平方公里", "平方米", "公顷", "亩", "千米", "公里", "米",
        "亿元", "万元", "元", "万人次", "人次", "万人", "万户", "户", "人", "名", "张", "个",
        "家", "所", "项", "座", "套", "间", "辆", "台", "条", "次", "岁", "天", "小时", "倍",
        "吨", "床", "册", "件", "份", "支", "处", "种", "类", "批", "万", "亿",
    )

    def compiled(self, name: str) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in getattr(self, name))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "配置") -> ParserConfig:
        """Defaults overridden by ``data``; unknown keys or bad regexes raise DubanError."""
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise DubanError(f"未知的解析配置项“{key}”", where=source)
            if key == "measure_level":
                if value not in ("auto", "item", "subsection"):
                    raise DubanError("measure_level 应为 auto、item 或 subsection", where=source)
                changes[key] = value
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise DubanError(f"解析配置项“{key}”应为字符串列表", where=source)
            if key.endswith("_patterns"):
                for pattern in value:
                    try:
                        re.compile(pattern)
                    except re.error as err:
                        raise DubanError(
                            f"解析配置项“{key}”中的正则表达式无效:{pattern}({err})", where=source
                        ) from None
            changes[key] = tuple(value)
        return replace(cls(), **changes)
