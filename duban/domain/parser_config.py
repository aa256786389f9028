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
    # A numbered item: 1.统筹…… / 1、统筹…… / 1)统筹……  (not 1.5 or 2015.)
    item_patterns: tuple[str, ...] = (
        r"^(?P<label>\d{1,3})(?:\.(?!\d)|、|\))\s*(?P<title>.+)$",
    )
    # Which level carries the measures: "item", "subsection", "section" or "auto" (the
    # level whose paragraphs carry responsibility clauses; the deeper one when tied).
    measure_level: str = "auto"
    # The document title: the last such line before the first heading.
    title_patterns: tuple[str, ...] = (
        r"^(?!.*[。;])(?P<title>.{4,80}(?:工作方案|实施方案|行动方案|方案|行动计划|工作计划|计划"
        r"|工作要点|要点|实施意见|意见|规划|办法|细则|通知|清单))$",
    )
    # A document number: 珠委办〔2014〕23号 / 珠委办201423 / 粤府办[2015]8号
    doc_number_patterns: tuple[str, ...] = (
        r"^(?P<doc>[\u4e00-\u9fff]{1,10}\s*[〔\[(【]?\s*(?:19|20)\d{2}\s*[〕\])】]?\s*\d{1,4}\s*号?)$",
    )
    # Lines of web-page or print chrome that never belong to the plan body.
    chrome_patterns: tuple[str, ...] = (
        r"ICP备", r"公网安备", r"技术支持", r"版权所有", r"(?i)copyright", r"^当前位置",
        r"^首页", r"^[【(]?打印", r"关闭窗口", r"^字号", r"^分享到", r"^来源[::]", r"^发布时间",
        r"^访问量", r"^浏览次数", r"^上一篇", r"^下一篇", r"^网站地图", r"^联系我们",
    )
    # --- responsibility clauses --------------------------------------------
    # "X牵头": X leads; "X、Y分别牵头": both lead (each its own part).
    lead_verbs: tuple[str, ...] = (
        "牵头负责", "分别牵头", "牵头抓总", "牵头", "分别负责", "主办", "主责", "负总责",
        "为牵头单位", "为牵头部门",
    )
    support_verbs: tuple[str, ...] = ("配合", "参与", "协办", "协助", "协同")
    # "X、Y负责" / "X、Y按职责分工负责": responsible, the plan names no lead (the
    # first listed leads, with a warning); after a lead verb in the same clause
    # ("X牵头,Y负责") the units support.
    responsible_verbs: tuple[str, ...] = (
        "按职责分工负责", "按职责分工落实", "按职能分工负责", "按职责负责", "分工负责",
        "共同负责", "具体负责", "负责落实", "负责",
    )
    # Words joining names of one list: "X会同Y负责" reads as "X、Y负责".
    list_joiners: tuple[str, ...] = ("会同",)
    lead_labels: tuple[str, ...] = (
        "牵头单位", "牵头部门", "主办单位", "主责单位", "牵头领导单位", "牵头责任单位",
        "主要责任单位", "牵头负责单位", "主责部门", "牵头处室", "牵头科室",
    )
    support_labels: tuple[str, ...] = (
        "配合单位", "配合部门", "参与单位", "参与部门", "协办单位", "协助单位",
        "协同责任单位", "协同单位", "协同部门", "配合责任单位", "其他责任单位",
    )
    # Labels whose list names the lead first and the supporting after it,
    # unless the same measure also has a lead label.
    responsible_labels: tuple[str, ...] = (
        "责任单位", "责任部门", "实施单位", "承办单位", "部门分工", "责任主体", "负责部门",
        "负责单位", "责任处室", "实施部门", "承办部门", "主管部门", "指导部门",
    )
    # A name followed by one of these in parentheses says its own role:
    # 责任单位:市发改委(牵头)、市财政局.
    lead_marks: tuple[str, ...] = ("牵头", "牵头单位", "牵头部门", "主责", "主办", "总牵头")
    support_marks: tuple[str, ...] = ("配合", "配合单位", "配合部门", "协办", "参与")
    # Leaders named beside a measure (not departments): kept as the measure's leaders.
    leader_labels: tuple[str, ...] = (
        "牵头负责领导", "牵头领导", "分管领导", "责任领导", "联系领导", "牵头市领导",
        "牵头县领导", "牵头区领导", "分管市领导", "分管县领导", "分管区领导", "责任市领导",
        "责任县领导", "责任区领导",
    )
    # Trailing words that close a name list: ……等单位 / 等有关部门和单位.
    list_tails: tuple[str, ...] = (
        "等有关部门和单位", "等相关部门和单位", "等有关单位和部门", "等部门和单位",
        "等相关单位", "等有关单位", "等相关部门", "等有关部门", "等单位", "等部门", "等",
    )
    # Names that point at no one in particular.
    vague_names: tuple[str, ...] = (
        "各相关单位", "各有关单位", "相关单位", "有关单位", "各相关部门", "各有关部门",
        "相关部门", "有关部门", "各单位", "各部门",
    )
    # ... and patterns for the same (各有关部门和单位, 市直各有关单位, 领导小组各成员单位).
    vague_patterns: tuple[str, ...] = (
        r"^.{0,12}?(各|其他)?(有关|相关|成员|其他)(的)?(部门|单位)((和|及|与|、)(部门|单位))?$",
        # a role named as a noun (各项目牵头单位, 各责任单位) names no one
        r"^.{0,10}(牵头|责任|配合|协办|成员|参与)(单位|部门)$",
    )
    # Notes inside a clause that name nobody: 下同, 列第一位者为牵头单位, 除标注"分别牵头"外,
    # 不再做分工. A segment (or parenthesis) matching one is dropped.
    clause_note_patterns: tuple[str, ...] = (
        r"下同", r"第一位", r"首位", r"(的|者)为牵头(或汇总)?(单位|部门)", r"汇总单位", r"^除.*外$",
        r"除标注", r"不再(单独)?(做|作|进行)?分工", r"^具体任务", r"^(以下|下文)",
    )
    # The convention that the first listed unit leads, stated by the plan itself:
    # leads taken from position then need no warning.
    first_leads_patterns: tuple[str, ...] = (
        r"(列|排|位列|排在|列在|排名)(于|在)?(第一|首)位",
        r"第一(位|个)(的|者)?(单位|部门)?(为|是)牵头",
    )
    # Local governments a collective names (各区、县级市 / 各县(市、区)政府): a list
    # continues a 各… name when its items are only these words.
    collective_units: tuple[str, ...] = (
        "县级市", "区县", "县区", "市区", "乡镇", "街道", "功能区", "区", "县", "市", "旗",
        "乡", "镇",
    )
    # Time columns and lines of a measure (完成时限:2023年底前 / 长期坚持).
    time_labels: tuple[str, ...] = (
        "完成时限", "完成时间", "时间节点", "时限要求", "完成期限", "时间安排", "时限",
        "进度安排",
    )
    # Time values that mean an ongoing task: no date, periodic progress reports.
    ongoing_terms: tuple[str, ...] = (
        "长期坚持", "持续推进", "持续实施", "持续开展", "长期推进", "常态化推进", "常态化",
        "长期", "持续", "每年", "每季度", "每月", "按年度推进", "逐年推进",
    )
    name_conjunctions: tuple[str, ...] = ("以及", "和", "及", "与")
    name_suffixes: tuple[str, ...] = (
        "局", "办", "委", "部", "会", "院", "厅", "处", "室", "所", "站", "中心", "团", "联",
        "区", "政府", "公司", "集团", "馆", "队", "署", "社", "行", "台", "镇", "街道",
        "总局", "关", "班", "组", "校", "司", "县", "市", "省",
    )
    # --- tables -------------------------------------------------------------
    # Header cells of a responsibility table (序号 | 任务 | 牵头单位 | 配合单位 | 完成时限).
    number_headers: tuple[str, ...] = ("序号", "编号", "序")
    task_headers: tuple[str, ...] = (
        "重点任务", "主要任务", "工作任务", "任务内容", "具体任务", "工作内容", "任务名称",
        "工作措施", "具体措施", "主要措施", "重点工作", "工作事项", "改革事项", "任务", "措施",
        "事项", "内容", "工作目标", "举措", "项目名称", "工作要点", "目标", "指标",
    )
    # --- targets ------------------------------------------------------------
    # Words of a clause that make its quantities policy parameters, not goals
    # (可返还……的50%, 最高不超过15万元, ……的标准).
    policy_markers: tuple[str, ...] = (
        "给予", "返还", "补贴", "补助", "奖励", "奖补", "贴息", "最高", "可申请", "可按",
        "可享受", "申请条件", "的标准", "标准为", "收费", "罚款", "优先支持",
    )
    # Fillers dropped from the start of an indicator (基本实现城乡…… → 城乡……).
    indicator_fillers: tuple[str, ...] = (
        "力争", "争取", "确保", "努力", "基本实现", "初步实现", "全面实现", "基本", "初步", "实现",
    )
    units: tuple[str, ...] = (
        "个百分点", "%", "‰", "千瓦时", "千瓦", "立方米", "标准箱", "平方公里", "平方米",
        "公顷", "亩", "千米", "公里", "米",
        "亿元", "万元", "元", "万人次", "人次", "万人", "万户", "户", "人", "名", "张", "个",
        "家", "所", "项", "座", "套", "间", "辆", "台", "条", "次", "岁", "天", "小时", "倍",
        "吨", "床", "册", "件", "份", "支", "处", "种", "类", "批", "场次", "场", "万", "亿",
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
                if value not in ("auto", "item", "subsection", "section"):
                    raise DubanError(
                        "measure_level 应为 auto、item、subsection 或 section", where=source
                    )
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
