"""Demo and benchmark issues, for ``manage.py seed_demo``.

Two different jobs live here:

* ``seed_demo_issues`` files about forty hand-written Korean issues between
  the organizations *through* ``issues.services``, so permissions, invariants
  and timelines (Event rows) are exactly what real use produces. It then
  back-dates every row it wrote so lists and dashboards look like a year of
  work. It is idempotent: a demo issue whose title already exists is skipped.
* ``seed_bulk`` tops the database up to N generated issues and M generated
  comments with ``bulk_create`` (no services, no signals, no notifications),
  fast enough for 20,000 issues and 100,000 comments in well under a minute.

"Generated" means "not a demo issue": demo issues are recognised by their
title (``DEMO_TITLES``) and generated titles never take one of those.
Both jobs draw from fixed random seeds, so the same database results twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TextIO

from django.db import connection, transaction
from django.utils import timezone

from agencies.models import Agency, Role, User

from . import services
from .demo_follow_through import seed_follow_through
from .models import (
    DONE_STATUSES,
    Category,
    Comment,
    Cooperation,
    CooperationStatus,
    Event,
    EventKind,
    Issue,
    Priority,
    Status,
    Visibility,
)

SEED = 2026
BATCH_SIZE = 2000  # rows per INSERT: well under PostgreSQL's 65,535 parameters

# --------------------------------------------------------------------------
# The hand-written demo issues
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoIssue:
    title: str
    lead: str  # agency slug (agencies/data/agencies.json)
    cooperating: tuple[str, ...]
    category: str  # category slug (issues/migrations/0003_categories.py)
    priority: str
    background: str
    asks: tuple[str, ...]
    restricted: bool = False

    def description(self, due: date | None) -> str:
        asks = "\n".join(f"- {ask}" for ask in self.asks)
        schedule = f"- 목표 기한: {due:%Y-%m-%d}\n" if due else ""
        return (
            f"## 배경\n\n{self.background}\n\n"
            f"## 협조 요청 사항\n\n{asks}\n\n"
            f"## 추진 일정\n\n{schedule}- 진행 상황은 이 이슈의 댓글로 공유합니다.\n"
        )


# A data table: laid out by hand, one issue per block.
# fmt: off
P = Priority
DEMO_ISSUES: tuple[DemoIssue, ...] = (
    DemoIssue(
        "AI 데이터센터 연계 실증 과제 공동 발굴", "gtp", ("gicon", "gjri"), "ai-data", P.HIGH,
        "국가 AI 데이터센터 가동에 맞춰 지역 기업의 GPU 자원 활용 수요가 빠르게 늘고 있습니다. "
        "기관별로 흩어진 실증 수요를 모아 공동 과제로 묶을 필요가 있습니다.",
        ("기관별 AI 실증 수요 조사 결과 공유", "공동 과제 후보 3건 이상 제안",
         "데이터 반출·보안 협약(안) 검토"),
    ),
    DemoIssue(
        "도시철도 2호선 공사 구간 교통 대책 협의", "grtc", ("gtcti", "gmdc"), "mobility", P.URGENT,
        "2호선 2단계 공사로 백운광장·남광주 일대 차로가 축소되어 출퇴근 시간 정체가 심해지고 "
        "있습니다. 시민 불편 민원이 하루 평균 30건을 넘었습니다.",
        ("우회 경로 안내 표지 추가 설치", "운수종사자 대상 공사 구간 안전 교육 일정 조정",
         "인접 부지의 임시 주차장 활용 가능 여부 검토"),
    ),
    DemoIssue(
        "광주비엔날레 기간 셔틀버스 운영", "biennale", ("grtc", "gjcf", "gic"), "culture-tourism",
        P.HIGH,
        "전시 기간 주말 관람객이 하루 1만 명을 넘지만 도시철도역과 전시관 사이 연계 교통이 "
        "부족합니다.",
        ("상무역 ↔ 비엔날레전시관 셔틀 배차 간격 협의", "외국인 관람객용 다국어 안내문 제작",
         "문화재단 주관 행사와 연계한 공동 홍보"),
    ),
    DemoIssue(
        "청년 일자리 박람회 공동 개최", "gepa", ("kdjcenter", "gtp", "gile"), "economy-jobs",
        P.NORMAL,
        "기관마다 따로 열던 채용 행사를 하나로 묶어 청년 구직자의 발걸음을 줄이고 참여 기업을 "
        "늘리려 합니다.",
        ("김대중컨벤션센터 전시홀 대관 일정 확보", "입주·지원 기업 참가 모집",
         "현장 취업 역량 강좌 운영"),
    ),
    DemoIssue(
        "탄소중립 실천 캠페인 공동 추진", "gec", ("gwf", "gjsports"), "environment", P.NORMAL,
        "2045 탄소중립 목표에 맞춰 시민 참여형 실천 캠페인을 공공기관이 함께 추진합니다.",
        ("기관별 실천 과제(일회용품 줄이기, 대중교통 이용) 선정",
         "생활체육 행사와 연계한 홍보 부스", "캠페인 참여 실적 분기별 공유"),
    ),
    DemoIssue(
        "김대중컨벤션센터 국제회의 유치 협력", "kdjcenter", ("gic", "gfn", "gjri"),
        "culture-tourism", P.HIGH,
        "2027년 국제회의 유치 경쟁이 본격화되었습니다. 유치 제안서에 지역 연구·국제교류 역량을 "
        "함께 담아야 합니다.",
        ("국제회의 주제와 연계한 연구 성과 자료 제공", "해외 네트워크를 통한 유치 홍보",
         "영어 홍보 영상 제작 지원"),
    ),
    DemoIssue(
        "복지 사각지대 위기가구 발굴 정보 공유", "gjwf", ("gjpass", "gwf"), "welfare", P.URGENT,
        "단전·단수, 임대료 체납 등 위기 신호가 여러 기관에 흩어져 있어 위기가구 발굴이 늦어지고 "
        "있습니다. 개인정보가 포함되므로 관계 기관만 열람합니다.",
        ("기관별 위기 신호 정보 항목 정리", "개인정보 제공 동의 절차 마련",
         "월 1회 사례 회의 참여"),
        restricted=True,
    ),
    DemoIssue(
        "광주FC 홈경기 관람객 대중교통 이용 활성화", "gwangjufc", ("grtc", "gtcti"), "mobility",
        P.NORMAL,
        "홈경기 날 경기장 주변 불법 주차와 정체가 반복됩니다. 도시철도 이용을 늘릴 방안이 "
        "필요합니다.",
        ("경기 종료 시간대 도시철도 증편 검토", "관람권 제시 시 환승 할인 이벤트 협의",
         "경기장 주변 교통 안내 인력 지원"),
    ),
    DemoIssue(
        "수소차 충전 인프라 확충 부지 협의", "gica", ("gmdc", "gec"), "environment", P.HIGH,
        "수소차 보급 목표 대비 충전소가 부족합니다. 공공기관 보유 부지 중 충전소 입지를 찾고 "
        "있습니다.",
        ("보유 부지 중 후보지 목록 제공", "환경 영향 사전 검토", "주민 설명회 공동 개최"),
    ),
    DemoIssue(
        "광주글로벌모터스 협력사 인력 양성 과정 개설", "ggm", ("gepa", "gile", "gtp"),
        "economy-jobs", P.NORMAL,
        "생산 물량 증가로 협력사의 숙련 인력 수요가 커졌습니다. 지역 청년을 대상으로 한 맞춤형 "
        "양성 과정이 필요합니다.",
        ("교육 과정 설계와 강사 지원", "수료생 채용 연계", "교육 장비·공간 공동 활용"),
    ),
    DemoIssue(
        "소상공인 특례보증 신청 절차 간소화", "gcgf", ("gepa",), "economy-jobs", P.NORMAL,
        "특례보증 신청 서류가 많아 소상공인의 부담이 크다는 의견이 계속 접수되고 있습니다.",
        ("중복 제출 서류 목록 정리", "경제고용진흥원 상담 창구와 온라인 접수 연계"),
    ),
    DemoIssue(
        "공공디자인 가이드라인 적용 도시철도 역사 개선", "gdc", ("grtc",), "urban-development",
        P.LOW,
        "1호선 역사의 안내 사인이 제각각이라 이용객 혼란이 있습니다. 공공디자인 가이드라인에 "
        "맞춘 단계적 개선을 제안합니다.",
        ("시범 역사 2곳 선정", "사인 교체 예산 분담 협의", "장애인 이용 편의 검토"),
    ),
    DemoIssue(
        "에너지 자립 마을 조성 사업 연계", "gmdc", ("gec", "gica"), "urban-development", P.NORMAL,
        "신규 택지 개발 단지에 태양광·ESS를 갖춘 에너지 자립 마을을 시범 조성하려 합니다.",
        ("에너지 수요 예측 자료 제공", "전기차 충전 설비 연계 설계 검토", "주민 운영 모델 자문"),
    ),
    DemoIssue(
        "음식물류 폐기물 자원화 시설 악취 민원 대응", "gec", ("gmdc",), "environment", P.URGENT,
        "여름철 자원화 시설 인근 아파트 단지의 악취 민원이 급증했습니다.",
        ("악취 측정 결과 공동 공개", "완충 녹지 조성 부지 협의", "주민 간담회 공동 참석"),
    ),
    DemoIssue(
        "장애인 생활체육 프로그램 공공시설 공동 활용", "gjparasports", ("gjsports", "gjpass"),
        "welfare", P.NORMAL,
        "장애인 생활체육 프로그램을 운영할 접근성 좋은 시설이 부족합니다.",
        ("평일 오전 체육관 유휴 시간대 공유", "이동 지원 인력 협조"),
    ),
    DemoIssue(
        "외국인 주민 생활 정보 다국어 방송 제작", "gfn", ("gic", "gwf"), "administration", P.LOW,
        "외국인 주민이 생활 정보(의료, 고용, 주거)를 얻을 창구가 부족합니다.",
        ("방송 주제 발굴을 위한 상담 사례 공유", "결혼이주여성 출연자 추천"),
    ),
    DemoIssue(
        "메타버스 기반 관광 콘텐츠 공동 제작", "gicon", ("biennale", "gjcf", "gdc"),
        "culture-tourism", P.NORMAL,
        "비엔날레·문화전당 등 대표 문화 자원을 하나의 메타버스 공간에 담는 관광 콘텐츠를 "
        "제작합니다.",
        ("전시 작품 디지털 사용권 협의", "문화 행사 일정 데이터 제공", "공간 디자인 자문"),
    ),
    DemoIssue(
        "돌봄 노동자 처우 개선 실태조사", "gjpass", ("gwf", "gjri"), "welfare", P.HIGH,
        "돌봄 종사자의 이직률이 높아 서비스 질이 흔들리고 있습니다. 조사 원자료에 개인정보가 "
        "있어 관계 기관만 열람합니다.",
        ("설문 문항 공동 검토", "조사 결과 분석과 정책 제언"),
        restricted=True,
    ),
    DemoIssue(
        "평생학습 디지털 역량 강좌 공동 운영", "gile", ("gicon", "gwf"), "economy-jobs", P.LOW,
        "중장년·경력단절 여성의 디지털 역량 강좌 수요가 늘었습니다.",
        ("강사 인력풀 공유", "교육장 장비 지원"),
    ),
    DemoIssue(
        "여성 창업 지원 공간 공동 활용", "gwf", ("gepa", "gcgf"), "economy-jobs", P.NORMAL,
        "여성 창업자를 위한 공유 오피스가 포화 상태입니다.",
        ("창업 지원 공간 추가 배정 검토", "창업 초기 보증 상품 안내 세미나 개최"),
    ),
    DemoIssue(
        "전국체전 대비 경기장 시설 안전 점검", "gjsports", ("gmdc", "gjparasports"),
        "administration", P.HIGH,
        "전국체전 개최를 앞두고 노후 경기장의 안전 점검과 보수가 필요합니다.",
        ("시설 정밀 점검 일정 협의", "장애인 편의시설 점검 참여", "보수 공사 우선순위 합의"),
    ),
    DemoIssue(
        "광주형 일자리 성과 분석 연구 협조", "gjri", ("ggm", "gepa"), "economy-jobs", P.NORMAL,
        "광주형 일자리의 고용·임금 성과를 분석해 후속 모델을 설계하려 합니다. 미공개 경영 "
        "자료가 포함되어 관계 기관만 열람합니다.",
        ("고용·임금 현황 자료 제공", "협력사 인터뷰 일정 지원"),
        restricted=True,
    ),
    DemoIssue(
        "도시철도 역사 유휴 공간 청년 창업 공간 활용", "grtc", ("gepa", "gdc"), "economy-jobs",
        P.NORMAL,
        "일부 역사의 상가 공실이 장기화되어 청년 창업 공간으로 활용하는 방안을 검토합니다.",
        ("입점 청년 기업 모집·선정 지원", "공간 리모델링 디자인 자문"),
    ),
    DemoIssue(
        "택시·버스 운수종사자 친절 교육 공동 운영", "gtcti", ("grtc",), "mobility", P.LOW,
        "대중교통 불친절 민원을 줄이기 위해 운수종사자 교육 과정을 개편합니다.",
        ("도시철도 고객 응대 사례 공유", "교육 강사 파견"),
    ),
    DemoIssue(
        "공공기관 통합 데이터 플랫폼 데이터 표준 협의", "gicon", ("gtp", "gjri", "gec"),
        "ai-data", P.HIGH,
        "기관마다 다른 데이터 형식 때문에 통합 플랫폼 연계가 지연되고 있습니다.",
        ("보유 데이터 목록과 형식 제출", "공통 코드 표준(안) 검토", "개방 가능 데이터 선정"),
    ),
    DemoIssue(
        "5·18 기념 문화행사 국제 교류 프로그램", "gic", ("gjcf", "gfn"), "culture-tourism",
        P.NORMAL,
        "해외 자매도시 청년들이 5·18 기념 문화행사에 참여하는 교류 프로그램을 준비합니다.",
        ("문화행사 참여 프로그램 구성", "영어 방송 홍보 편성"),
    ),
    DemoIssue(
        "청년 임대주택 입주자 주거 상담 연계", "gmdc", ("gjwf", "gwf"), "welfare", P.NORMAL,
        "청년 임대주택 입주자 중 주거비 부담과 고립 위험이 있는 가구에 상담을 연계하려 합니다.",
        ("복지 상담 인력 연계", "여성 1인 가구 안전 지원 사업 안내"),
    ),
    DemoIssue(
        "자율주행 실증 구간 교통 데이터 공유", "gica", ("grtc", "gtp", "gicon"), "ai-data",
        P.HIGH,
        "자율주행 실증 구간 확대를 위해 실시간 교통·승객 데이터가 필요합니다.",
        ("역사 주변 승하차 데이터 제공", "데이터 수집 장비 설치 협의", "데이터 분석 인프라 지원"),
    ),
    DemoIssue(
        "폭염 대비 취약계층 무더위 쉼터 운영 협력", "gjwf", ("gjpass", "gjsports", "gile"),
        "welfare", P.URGENT,
        "폭염 특보가 잦아지면서 공공시설을 무더위 쉼터로 추가 지정할 필요가 있습니다.",
        ("기관 보유 시설 중 쉼터 지정 가능 공간 제출", "쉼터 운영 인력 지원",
         "독거 어르신 안부 확인 연계"),
    ),
    DemoIssue(
        "광주FC 유소년 축구 교실 확대", "gwangjufc", ("gjsports", "gile"), "culture-tourism",
        P.LOW,
        "유소년 축구 교실 대기 인원이 200명을 넘었습니다.",
        ("학교 운동장·체육시설 사용 협조", "방과후 프로그램 연계"),
    ),
    DemoIssue(
        "공공기관 채용 공동 설명회 개최", "gepa", ("gjri", "gec", "gmdc"), "economy-jobs",
        P.NORMAL,
        "지역 인재 채용 목표 달성을 위해 공공기관 합동 채용 설명회를 엽니다.",
        ("기관별 채용 일정과 직무 소개 자료 제출", "현직자 멘토 참여"),
    ),
    DemoIssue(
        "국제회의 참가자 대상 광주 관광 패키지 개발", "kdjcenter", ("gjcf", "gic"),
        "culture-tourism", P.NORMAL,
        "국제회의 참가자의 체류 기간을 늘리기 위해 회의 전후 관광 패키지를 개발합니다.",
        ("문화 공연 관람 프로그램 연계", "외국어 해설사 지원"),
    ),
    DemoIssue(
        "문화예술인 창작 공간 임대료 지원 협의", "gjcf", ("gmdc",), "culture-tourism", P.NORMAL,
        "구도심 임대료 상승으로 예술인 창작 공간이 줄고 있습니다.",
        ("공사 보유 상가 중 창작 공간 후보 제공", "임대료 감면 기준 협의"),
    ),
    DemoIssue(
        "영산강 수질 개선 모니터링 데이터 공유", "gec", ("gjri", "gicon"), "environment",
        P.NORMAL,
        "영산강 본류 수질 측정 자료를 연구·정책에 활용할 수 있도록 공유 체계를 만듭니다.",
        ("측정 자료 정기 제공", "수질 예측 모델 공동 연구", "시민 공개용 시각화"),
    ),
    DemoIssue(
        "사회서비스 종사자 안전 매뉴얼 공동 개발", "gjpass", ("gjwf",), "welfare", P.NORMAL,
        "가정 방문 서비스 중 폭언·폭행 피해 사례가 늘어 안전 매뉴얼이 필요합니다.",
        ("피해 사례 수집", "매뉴얼 초안 검토"),
    ),
    DemoIssue(
        "장애인 체육대회 선수단 이동 지원 차량 협조", "gjparasports", ("grtc", "gtcti"),
        "mobility", P.HIGH,
        "장애인 체육대회 기간 선수단 이동 차량이 부족합니다.",
        ("저상 차량 지원 가능 대수 회신", "운전 인력 안전 교육"),
    ),
    DemoIssue(
        "스마트공장 도입 중소기업 보증 연계 지원", "gcgf", ("gtp", "gepa"), "economy-jobs",
        P.NORMAL,
        "스마트공장 도입 기업이 설비 자금 마련에 어려움을 겪고 있습니다.",
        ("기술 평가 결과 공유", "보증 우대 대상 기업 추천"),
    ),
    DemoIssue(
        "내년도 정책 연구 과제 공공기관 수요 조사", "gjri", (), "administration", P.LOW,
        "내년도 정책 연구 과제를 정하기 위해 기관별 연구 수요를 받습니다.",
        ("기관별 연구 수요 2건 이내 제출",),
    ),
    DemoIssue(
        "재난 안내 영어 방송 체계 구축", "gfn", ("gic",), "administration", P.HIGH,
        "태풍·폭우 때 외국인 주민에게 재난 정보가 늦게 전달된다는 지적이 있었습니다.",
        ("재난 문자 번역 지원 인력 협조", "외국인 커뮤니티 전파 경로 공유"),
    ),
    DemoIssue(
        "비엔날레 전시관 주변 보행 환경 개선", "biennale", ("gdc", "gmdc"), "urban-development",
        P.NORMAL,
        "전시관 주변 보도가 좁고 안내 사인이 부족해 관람객 보행이 불편합니다.",
        ("보행 동선 디자인 개선안 마련", "보도 확장 구간 공사 일정 협의"),
    ),
)
del P
# fmt: on
DEMO_TITLES = frozenset(spec.title for spec in DEMO_ISSUES)

# Words the demo actors write. ``{agency}`` is the author's organization.
LEAD_COMMENTS = (
    "관련 자료를 공유드립니다. 검토하시고 의견 주시면 반영하겠습니다.",
    "**진행 상황 공유**\n\n- 1차 실무 협의 완료\n- 세부 일정은 다음 주 확정 예정\n\n"
    "추가 의견은 댓글로 남겨 주세요.",
    "협조 기관 회신 내용을 정리해 다음 부기관장 회의 안건으로 올리겠습니다.",
    "예산 확보 문제로 일정이 다소 늦어지고 있습니다. 이번 달 말까지 다시 검토하겠습니다.",
    "실무 회의를 {day} 오후 2시 시청 소회의실에서 진행하려 합니다. 참석 여부 알려 주세요.",
    "현장 점검 결과 보완이 필요한 사항이 있어 조치 계획을 정리하고 있습니다.",
)
COOPERATOR_COMMENTS = (
    "{agency} 담당자입니다. 내부 검토 후 이번 주 안에 회신드리겠습니다.",
    "저희 기관 보유 자료 목록을 정리했습니다. 필요한 항목을 알려 주시면 제공하겠습니다.",
    "담당 부서가 바뀌어 {agency} 새 담당자가 이어서 챙기겠습니다.",
    "협조 범위를 분명히 하기 위해 실무 협의를 한 번 더 요청드립니다.",
    "요청하신 일정은 가능하나 인력 지원은 2명까지만 가능합니다.",
)
MAYOR_COMMENTS = (
    "시장님 보고 예정입니다. 주요 쟁점과 기관별 입장을 정리해 주세요.",
    "기관 간 이견이 있는 부분은 다음 부기관장 회의에서 조정하겠습니다.",
    "시민 체감도가 높은 과제이니 일정 준수 부탁드립니다.",
)
ANSWER_NOTES = {
    CooperationStatus.ACCEPTED: (
        "적극 협조하겠습니다. 담당자를 지정해 안내드리겠습니다.",
        "내부 결재를 마쳤습니다. 요청 사항대로 지원하겠습니다.",
        "협조하겠습니다. 다만 올해 예산 범위 안에서 가능합니다.",
    ),
    CooperationStatus.DECLINED: (
        "소관 업무가 아니어서 협조가 어렵습니다. 관련 부서와 먼저 협의 부탁드립니다.",
        "올해 사업 일정과 겹쳐 참여가 어렵습니다. 하반기에 다시 검토하겠습니다.",
    ),
    CooperationStatus.DONE: (
        "요청하신 자료 제공을 완료했습니다.",
        "협조 사항 이행을 마쳤습니다. 결과는 댓글로 공유드렸습니다.",
        "현장 지원을 마쳤습니다. 수고 많으셨습니다.",
    ),
}
WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일")


def _rng(seed: int) -> random.Random:
    # Demo data, not secrets: a seeded PRNG is the point (same data every run).
    return random.Random(seed)  # noqa: S311


def _pick_status(age_days: int, rng: random.Random) -> str:
    """Older issues are more likely finished, as in real life."""
    if age_days > 180:
        weights = {Status.RESOLVED: 45, Status.CLOSED: 20, Status.IN_PROGRESS: 20,
                   Status.ON_HOLD: 10, Status.OPEN: 5}  # fmt: skip
    elif age_days > 45:
        weights = {Status.RESOLVED: 25, Status.CLOSED: 5, Status.IN_PROGRESS: 40,
                   Status.ON_HOLD: 10, Status.OPEN: 20}  # fmt: skip
    else:
        weights = {Status.OPEN: 50, Status.IN_PROGRESS: 40, Status.ON_HOLD: 5,
                   Status.RESOLVED: 5}  # fmt: skip
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _pick_answer(issue_status: str, rng: random.Random) -> str:
    if issue_status in DONE_STATUSES:
        weights = {CooperationStatus.DONE: 60, CooperationStatus.ACCEPTED: 25,
                   CooperationStatus.DECLINED: 15}  # fmt: skip
    else:
        weights = {CooperationStatus.REQUESTED: 35, CooperationStatus.ACCEPTED: 40,
                   CooperationStatus.DECLINED: 10, CooperationStatus.DONE: 15}  # fmt: skip
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _status_path(final: str) -> list[str]:
    """The status changes a lead agency makes to get from open to ``final``."""
    return {
        Status.OPEN: [],
        Status.IN_PROGRESS: [Status.IN_PROGRESS],
        Status.ON_HOLD: [Status.IN_PROGRESS, Status.ON_HOLD],
        Status.RESOLVED: [Status.IN_PROGRESS, Status.RESOLVED],
        Status.CLOSED: [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
    }[final]


@dataclass(frozen=True)
class _Step:
    """One thing that happens to a demo issue after it is filed."""

    at: datetime
    kind: str  # "answer", "comment" or "status"
    actor: str  # username
    value: str  # the answer or the new status ("" for comments)
    agency: str = ""  # for answers: the cooperating agency's slug
    note: str = ""


@dataclass
class _Plan:
    spec: DemoIssue
    created_at: datetime
    creator: str
    status: str
    due_date: date | None
    steps: list[_Step] = field(default_factory=list)


def _office_hours(moment: datetime, rng: random.Random, now: datetime) -> datetime:
    local = timezone.localtime(moment)
    local = local.replace(hour=rng.randint(9, 17), minute=rng.randrange(60), second=0)
    return min(local.replace(microsecond=0), now - timedelta(minutes=5))


def _daytime(moment: datetime, earliest: datetime, latest: datetime) -> datetime:
    """Move a night-time moment into office hours the same day, within the window.

    People answer and comment at work; a timeline full of 3 a.m. entries
    looks fake.
    """
    local = timezone.localtime(moment)
    if not 9 <= local.hour < 18:
        moment = local.replace(hour=9 + local.hour % 9)
    return max(earliest + timedelta(minutes=1), min(moment, latest))


def _pick_due(status: str, age_days: int, created: date, today: date, rng) -> date | None:
    if status in DONE_STATUSES:
        return created + timedelta(days=rng.randint(20, 90))
    if age_days > 30 and rng.random() < 0.35:  # overdue: the reminders have work to do
        return today - timedelta(days=rng.randint(1, min(45, age_days - 20)))
    if rng.random() < 0.1:
        return None
    return today + timedelta(days=rng.randint(5, 90))


def _plan(spec: DemoIssue, index: int, now: datetime) -> _Plan:
    """Decide everything about one demo issue, from its own seed.

    A per-issue seed keeps each issue the same whether or not the others
    already exist.
    """
    rng = _rng(SEED * 1000 + index)
    age_days = rng.randint(2, 360)
    created_at = _office_hours(now - timedelta(days=age_days), rng, now)
    status = _pick_status(age_days, rng)
    plan = _Plan(
        spec=spec,
        created_at=created_at,
        creator="mayor1" if rng.random() < 0.2 else f"{spec.lead}-staff1",
        status=status,
        due_date=_pick_due(status, age_days, created_at.date(), timezone.localdate(now), rng),
    )
    # Everything else happens within an activity window after filing.
    end = min(now - timedelta(minutes=10), created_at + timedelta(days=rng.randint(7, 75)))

    def at(low: float, high: float) -> datetime:
        moment = created_at + (end - created_at) * rng.uniform(low, high)
        return _daytime(moment, created_at, end)

    speakers = [f"{spec.lead}-staff1", f"{spec.lead}-staff2", f"{spec.lead}-head", "mayor1"]
    for slug in spec.cooperating:
        answer = _pick_answer(status, rng)
        if answer == CooperationStatus.DONE:  # first yes, then done
            plan.steps.append(_answer_step(at(0.05, 0.3), slug, CooperationStatus.ACCEPTED, rng))
            plan.steps.append(_answer_step(at(0.5, 0.9), slug, answer, rng))
        elif answer != CooperationStatus.REQUESTED:
            plan.steps.append(_answer_step(at(0.05, 0.5), slug, answer, rng))
        if answer != CooperationStatus.DECLINED:
            speakers.append(f"{slug}-staff1")
    for _ in range(rng.randint(0, 4)):
        plan.steps.append(_Step(at(0.1, 0.95), "comment", rng.choice(speakers), ""))
    for position, new_status in enumerate(_status_path(status)):
        # The first change comes early, the last ones close the window.
        when = at(0.02, 0.2) if position == 0 else at(0.85, 1.0)
        plan.steps.append(_Step(when, "status", f"{spec.lead}-head", new_status))
    plan.steps.sort(key=lambda step: (step.at, step.kind != "status"))
    _fix_status_order(plan.steps)
    return plan


def _answer_step(at: datetime, slug: str, answer: str, rng: random.Random) -> _Step:
    note = rng.choice(ANSWER_NOTES[answer])
    return _Step(at, "answer", f"{slug}-staff1", answer, agency=slug, note=note)


# Position along a status path (ON_HOLD and RESOLVED never share one).
_PATH_RANK = {Status.IN_PROGRESS: 0, Status.ON_HOLD: 1, Status.RESOLVED: 1, Status.CLOSED: 2}


def _fix_status_order(steps: list[_Step]) -> None:
    """Keep status changes in path order even if their random times crossed."""
    positions = [i for i, step in enumerate(steps) if step.kind == "status"]
    ordered = sorted((steps[i] for i in positions), key=lambda s: _PATH_RANK[s.value])
    times = sorted(steps[i].at for i in positions)
    for i, step, when in zip(positions, ordered, times, strict=True):
        steps[i] = _Step(when, step.kind, step.actor, step.value)


def _comment_body(username: str, users: dict[str, User], lead_slug: str, rng) -> str:
    user = users[username]
    if user.role == Role.MAYOR_OFFICE:
        pool = MAYOR_COMMENTS
    elif username.startswith(f"{lead_slug}-"):
        pool = LEAD_COMMENTS
    else:
        pool = COOPERATOR_COMMENTS
    return rng.choice(pool).format(agency=user.agency.name_ko, day=rng.choice(WEEKDAYS))


# Back-dating. Services stamp "now"; these move what a step just wrote to
# the step's planned moment, so the timeline reads like a year of work.


def _back_date_filing(issue: Issue, at: datetime) -> None:
    Issue.objects.filter(pk=issue.pk).update(created_at=at, updated_at=at)
    Event.objects.filter(issue=issue).update(created_at=at)
    Cooperation.objects.filter(issue=issue).update(requested_at=at)


def _back_date_last_event(issue: Issue, at: datetime) -> None:
    last = Event.objects.filter(issue=issue).latest("id")
    Event.objects.filter(pk=last.pk).update(created_at=at)


def _file(plan: _Plan, users, agencies, categories) -> Issue:
    spec = plan.spec
    issue = services.issue_create(
        actor=users[plan.creator],
        title=spec.title,
        lead_agency=agencies[spec.lead],
        description=spec.description(plan.due_date),
        cooperating_agencies=[agencies[slug] for slug in spec.cooperating],
        category=categories.get(spec.category),
        priority=spec.priority,
        visibility=Visibility.RESTRICTED if spec.restricted else Visibility.ALL,
        due_date=plan.due_date,
        assignee=users[f"{spec.lead}-staff2"],
    )
    _back_date_filing(issue, plan.created_at)
    return issue


def _run_step(issue: Issue, step: _Step, users, cooperations, rng) -> Issue:
    """Perform one step through the services and back-date what it wrote."""
    actor = users[step.actor]
    if step.kind == "answer":
        done = services.cooperation_answer(
            cooperation=cooperations[step.agency], actor=actor, status=step.value, note=step.note
        )
        Cooperation.objects.filter(pk=done.pk).update(answered_at=step.at)
        _back_date_last_event(issue, step.at)
    elif step.kind == "comment":
        body = _comment_body(step.actor, users, issue.lead_agency.slug, rng)
        comment = services.comment_create(issue=issue, actor=actor, body=body)
        Comment.objects.filter(pk=comment.pk).update(created_at=step.at)
        Event.objects.filter(comment=comment).update(created_at=step.at)
    else:
        issue = services.issue_change_status(
            issue=issue, actor=actor, expected_version=issue.version, status=step.value
        )
        _back_date_last_event(issue, step.at)
    return issue


def _create_demo_issue(plan: _Plan, index: int, users, agencies, categories) -> int:
    issue = _file(plan, users, agencies, categories)
    cooperations = {c.agency.slug: c for c in issue.cooperations.select_related("agency")}
    rng = _rng(SEED * 1000 + index + 500)  # comment wording, separate from the plan's draws
    resolved_at = None
    for step in plan.steps:
        issue = _run_step(issue, step, users, cooperations, rng)
        if step.kind == "status" and step.value in DONE_STATUSES and resolved_at is None:
            resolved_at = step.at
    last = plan.steps[-1].at if plan.steps else plan.created_at
    Issue.objects.filter(pk=issue.pk).update(
        updated_at=max(last, plan.created_at),
        resolved_at=resolved_at if plan.status in DONE_STATUSES else None,
    )
    return issue.pk


def seed_demo_issues(out: TextIO) -> int:
    """File the demo issues that do not exist yet; returns how many were filed.

    Needs the organizations and users of ``agencies.demo``. Notifications are
    suppressed while the history is replayed (nobody should get a hundred
    e-mails about demo data), then written into the bells, dated and owing no
    e-mail, with owners, deadlines, follows and saved searches
    (``demo_follow_through``).
    """
    now = timezone.now()
    existing = set(Issue.objects.filter(title__in=DEMO_TITLES).values_list("title", flat=True))
    users = {u.username: u for u in User.objects.select_related("agency")}
    agencies = Agency.objects.in_bulk(field_name="slug")
    categories = Category.objects.in_bulk(field_name="slug")
    created = []
    with transaction.atomic():
        with services.notifications_suppressed():
            for index, spec in enumerate(DEMO_ISSUES):
                if spec.title in existing:
                    continue
                plan = _plan(spec, index, now)
                created.append(_create_demo_issue(plan, index, users, agencies, categories))
        follow_through = seed_follow_through(created) if created else {}
    out.write(f"Demo issues: {len(created)} created, {len(existing)} already there\n")
    if follow_through:
        out.write(
            "Follow-through: {owners} requests with a person in charge, {follows} follows, "
            "{searches} saved searches, {notices} notifications in the bells\n".format(
                **follow_through
            )
        )
    return len(created)


# --------------------------------------------------------------------------
# Benchmark scale: bulk inserts
# --------------------------------------------------------------------------

# fmt: off
PLACES = ("상무지구", "첨단산단", "송정역", "충장로", "양림동", "광주천", "빛그린산단",
          "금남로", "무등산", "월드컵경기장", "대인시장", "수완지구", "남광주", "백운광장",
          "평동산단")
SUBJECTS = ("공공데이터 개방", "보행 안전", "주차 공간 확보", "청년 창업 지원", "문화 행사",
            "미세먼지 저감", "돌봄 서비스", "관광 안내", "도시재생", "스마트 가로등",
            "자전거 도로", "공공 와이파이", "재난 대응", "일자리 매칭", "노인 일자리",
            "외국인 주민 지원", "전기차 충전소", "하천 정비", "생활체육 시설", "디자인 개선")
ACTIONS = ("협조 요청", "공동 대응 방안", "추진 현황 점검", "예산 분담 협의", "실무 협의",
           "개선 방안 검토", "자료 제공 요청", "합동 점검", "시범 사업 추진")
REASONS = ("시민 민원이 꾸준히 늘고 있습니다", "올해 업무 계획에 반영된 과제입니다",
           "부기관장 회의에서 후속 조치를 요청받았습니다", "관련 예산이 추가 확보되었습니다",
           "현장 점검에서 보완 필요 사항이 확인되었습니다")
ASKS = ("담당자 지정과 회신", "보유 자료 제공", "실무 협의 참석", "현장 점검 참여",
        "예산 분담 의견 회신", "홍보 채널 지원", "시설·공간 사용 협조")
# fmt: on
BULK_COMMENTS = LEAD_COMMENTS + COOPERATOR_COMMENTS + MAYOR_COMMENTS

PRIORITY_WEIGHTS = {Priority.LOW: 15, Priority.NORMAL: 50, Priority.HIGH: 25, Priority.URGENT: 10}
# 0–3 cooperating agencies, 1.5 on average.
COOPERATOR_COUNT_WEIGHTS = {0: 15, 1: 35, 2: 35, 3: 15}
RESTRICTED_SHARE = 0.15
HISTORY_DAYS = 395  # a little over a year, so year-on-year views have data


@dataclass
class _Population:
    """Who and what generated rows may point at, loaded once."""

    organizations: list[int]
    users_by_agency: dict[int, list[int]]
    agency_names: dict[int, str]
    user_agency: dict[int, int]
    mayor_office: list[int]
    categories: list[int]

    @classmethod
    def load(cls) -> _Population:
        organizations = list(
            Agency.objects.public_organizations().active().values_list("pk", flat=True)
        )
        users_by_agency: dict[int, list[int]] = {}
        user_agency: dict[int, int] = {}
        mayor_office = []
        people = User.objects.filter(is_active=True, agency__isnull=False).order_by("pk")
        for pk, agency_id, role in people.values_list("pk", "agency_id", "role"):
            users_by_agency.setdefault(agency_id, []).append(pk)
            user_agency[pk] = agency_id
            if role == Role.MAYOR_OFFICE:
                mayor_office.append(pk)
        return cls(
            organizations=[pk for pk in organizations if pk in users_by_agency],
            users_by_agency=users_by_agency,
            agency_names=dict(Agency.objects.values_list("pk", "name_ko")),
            user_agency=user_agency,
            mayor_office=mayor_office,
            categories=list(Category.objects.values_list("pk", flat=True)),
        )


def _weighted(weights: dict, rng: random.Random):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _generated_title(rng: random.Random) -> str:
    title = f"{rng.choice(PLACES)} {rng.choice(SUBJECTS)} {rng.choice(ACTIONS)}"
    return title if title not in DEMO_TITLES else f"{title} (추가)"


def _generated_description(title: str, rng: random.Random) -> str:
    asks = "\n".join(f"- {ask}" for ask in rng.sample(ASKS, 2))
    return f"## 배경\n\n{title} 건으로, {rng.choice(REASONS)}.\n\n## 협조 요청 사항\n\n{asks}\n"


def _generated_due(created_at: datetime, status: str, today: date, rng) -> date | None:
    if rng.random() < 0.15:
        return None
    due = timezone.localdate(created_at) + timedelta(days=rng.randint(14, 120))
    if status not in DONE_STATUSES and due < today and rng.random() < 0.75:
        # Most lapsed deadlines of live work get extended; a dashboard where
        # every second issue is overdue would not look like any real city.
        due = today + timedelta(days=rng.randint(7, 60))
    return due


def _generated_issue(pop: _Population, now: datetime, today: date, rng) -> Issue:
    lead = rng.choice(pop.organizations)
    age = timedelta(days=rng.uniform(0, HISTORY_DAYS))
    created_at = now - age
    # Last activity: somewhere in the following weeks, never in the future.
    updated_at = min(now, created_at + timedelta(days=rng.uniform(0, 90)))
    status = _pick_status(age.days, rng)
    lead_users = pop.users_by_agency[lead]
    creator = rng.choice(pop.mayor_office) if pop.mayor_office and rng.random() < 0.1 else None
    title = _generated_title(rng)
    return Issue(
        title=title,
        description=_generated_description(title, rng),
        lead_agency_id=lead,
        category_id=rng.choice(pop.categories) if pop.categories else None,
        priority=_weighted(PRIORITY_WEIGHTS, rng),
        status=status,
        visibility=Visibility.RESTRICTED if rng.random() < RESTRICTED_SHARE else Visibility.ALL,
        due_date=_generated_due(created_at, status, today, rng),
        created_by_id=creator or rng.choice(lead_users),
        assignee_id=rng.choice(lead_users) if rng.random() < 0.7 else None,
        created_at=created_at,
        updated_at=updated_at,
        resolved_at=updated_at if status in DONE_STATUSES else None,
    )


def _generated_cooperations(issue: Issue, pop: _Population, rng) -> list[Cooperation]:
    others = [pk for pk in pop.organizations if pk != issue.lead_agency_id]
    count = min(_weighted(COOPERATOR_COUNT_WEIGHTS, rng), len(others))
    rows = []
    for agency_id in rng.sample(others, count):  # sample: unique per issue
        answer = _pick_answer(issue.status, rng)
        answered = answer != CooperationStatus.REQUESTED
        rows.append(
            Cooperation(
                issue_id=issue.pk,
                agency_id=agency_id,
                status=answer,
                requested_by_id=issue.created_by_id,
                requested_at=issue.created_at,
                answered_by_id=rng.choice(pop.users_by_agency[agency_id]) if answered else None,
                answered_at=issue.created_at + (issue.updated_at - issue.created_at) * rng.random()
                if answered
                else None,
            )
        )
    return rows


def _created_event(issue: Issue) -> Event:
    return Event(
        issue_id=issue.pk,
        actor_id=issue.created_by_id,
        kind=EventKind.CREATED,
        created_at=issue.created_at,
    )


def _comment_event(comment: Comment) -> Event:
    return Event(
        issue_id=comment.issue_id,
        actor_id=comment.author_id,
        kind=EventKind.COMMENT,
        comment=comment,
        created_at=comment.created_at,
    )


def _batches(total: int) -> Iterator[int]:
    """Sizes of consecutive batches adding up to ``total``."""
    for start in range(0, total, BATCH_SIZE):
        yield min(BATCH_SIZE, total - start)


def _bulk_issues(count: int, pop: _Population, rng: random.Random) -> tuple[int, int]:
    """Insert ``count`` issues with their cooperations and "created" events.

    One transaction per batch: an interrupted run leaves whole issues behind,
    and the next run tops up from there.
    """
    now = timezone.now()
    today = timezone.localdate(now)
    cooperation_total = 0
    for size in _batches(count):
        issues = [_generated_issue(pop, now, today, rng) for _ in range(size)]
        with transaction.atomic():
            Issue.objects.bulk_create(issues)  # sets pk on PostgreSQL and SQLite ≥ 3.35
            cooperations = [c for i in issues for c in _generated_cooperations(i, pop, rng)]
            Cooperation.objects.bulk_create(cooperations, batch_size=BATCH_SIZE)
            Event.objects.bulk_create([_created_event(i) for i in issues])
        cooperation_total += len(cooperations)
    return count, cooperation_total


@dataclass(frozen=True)
class _Target:
    """A generated issue comments may land on, with who may write them."""

    pk: int
    created_at: datetime
    updated_at: datetime
    authors: tuple[int, ...]


def _comment_targets(pop: _Population) -> list[_Target]:
    """Generated issues, each with the users of its involved agencies and the Mayor's office."""
    rows = Issue.objects.exclude(title__in=DEMO_TITLES).order_by("pk")
    issues = list(rows.values_list("pk", "lead_agency_id", "created_at", "updated_at"))
    involved: dict[int, list[int]] = {pk: [lead] for pk, lead, _, _ in issues}
    for issue_id, agency_id in Cooperation.objects.values_list("issue_id", "agency_id"):
        if issue_id in involved:
            involved[issue_id].append(agency_id)
    targets = []
    for pk, _, created_at, updated_at in issues:
        authors = [u for a in involved[pk] for u in pop.users_by_agency.get(a, ())]
        targets.append(_Target(pk, created_at, updated_at, tuple(authors + pop.mayor_office)))
    return targets


def _generated_comment(target: _Target, pop: _Population, rng: random.Random) -> Comment:
    author = rng.choice(target.authors)
    body = rng.choice(BULK_COMMENTS).format(
        agency=pop.agency_names[pop.user_agency[author]], day=rng.choice(WEEKDAYS)
    )
    # Inside the issue's activity window, so updated_at stays "last activity".
    at = target.created_at + (target.updated_at - target.created_at) * rng.random()
    return Comment(issue_id=target.pk, author_id=author, body=body, created_at=at)


def _bulk_comments(count: int, pop: _Population, rng: random.Random) -> int:
    """Insert ``count`` comments spread over the generated issues, each with its event."""
    targets = _comment_targets(pop)
    if not targets:
        return 0
    for size in _batches(count):
        comments = [_generated_comment(rng.choice(targets), pop, rng) for _ in range(size)]
        with transaction.atomic():
            Comment.objects.bulk_create(comments)
            Event.objects.bulk_create([_comment_event(c) for c in comments])
    return count


def _analyze() -> None:
    # Fresh statistics, so the planner does not treat the new tables as empty
    # until autovacuum gets round to them.
    if connection.vendor != "postgresql":
        return
    tables = [m._meta.db_table for m in (Issue, Cooperation, Comment, Event)]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")


def seed_bulk(out: TextIO, *, issues: int, comments: int) -> None:
    """Top the database up to ``issues`` generated issues and ``comments`` generated comments.

    Counts what is already there (everything but the demo issues and their
    comments), so running it twice with the same numbers adds nothing.
    """
    started = time.monotonic()
    pop = _Population.load()
    if not pop.organizations:
        out.write("Benchmark data: no organizations with users; run seed_demo first\n")
        return
    generated = Issue.objects.exclude(title__in=DEMO_TITLES)
    existing_issues = generated.count()
    missing_issues = max(0, issues - existing_issues)
    missing_comments = max(0, comments - Comment.objects.filter(issue__in=generated).count())
    # Seeded by what exists, so a top-up does not replay the first run's draws.
    rng = _rng(SEED + existing_issues)
    new_issues, new_cooperations = _bulk_issues(missing_issues, pop, rng)
    new_comments = _bulk_comments(missing_comments, pop, rng)
    _analyze()
    out.write(
        f"Benchmark data: +{new_issues} issues, +{new_cooperations} cooperations, "
        f"+{new_comments} comments, +{new_issues + new_comments} events "
        f"in {time.monotonic() - started:.1f}s (targets: {issues} issues, {comments} comments)\n"
    )
