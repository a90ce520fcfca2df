"""Event states, satisfaction levels and input datums, with their Chinese labels."""

from __future__ import annotations

from enum import StrEnum


class EventState(StrEnum):
    reported = "reported"  # 上报
    accepted = "accepted"  # 受理(立案)
    rejected = "rejected"  # 不予立案
    dispatched = "dispatched"  # 派遣
    returned = "returned"  # 退回
    handled = "handled"  # 处置
    closed = "closed"  # 办结(结案)
    reviewed = "reviewed"  # 回访
    merged = "merged"  # 合并入另一事件(重复上报)


STATE_LABELS_ZH: dict[EventState, str] = {
    EventState.reported: "已上报", EventState.accepted: "已受理", EventState.rejected: "不予立案",
    EventState.dispatched: "已派遣", EventState.returned: "已退回", EventState.handled: "已处置",
    EventState.closed: "已办结", EventState.reviewed: "已回访", EventState.merged: "已合并",
}

TERMINAL = frozenset({EventState.rejected, EventState.reviewed, EventState.merged})
# States in which the event counts as closed (办结) for closure indicators.
CLOSED_STATES = frozenset({EventState.closed, EventState.reviewed})


class Satisfaction(StrEnum):
    very_satisfied = "very_satisfied"
    satisfied = "satisfied"
    neutral = "neutral"
    dissatisfied = "dissatisfied"
    very_dissatisfied = "very_dissatisfied"


SATISFACTION_LABELS_ZH: dict[Satisfaction, str] = {
    Satisfaction.very_satisfied: "非常满意", Satisfaction.satisfied: "满意", Satisfaction.neutral: "一般",
    Satisfaction.dissatisfied: "不满意", Satisfaction.very_dissatisfied: "非常不满意",
}
# seed 003: satisfaction = (一般 + 满意 + 非常满意) / number of ratings
SATISFIED = frozenset({Satisfaction.very_satisfied, Satisfaction.satisfied, Satisfaction.neutral})


class Datum(StrEnum):
    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"
    cgcs2000 = "cgcs2000"


class TimeLimitStep(StrEnum):
    """The step whose time limit runs while the event is in a state; `closure` runs from report."""

    accept = "accept"
    dispatch = "dispatch"
    handle = "handle"
    close = "close"
    review = "review"
    closure = "closure"


# Which step's clock runs in each open state.
STEP_OF_STATE: dict[EventState, TimeLimitStep] = {
    EventState.reported: TimeLimitStep.accept,
    EventState.accepted: TimeLimitStep.dispatch,
    EventState.returned: TimeLimitStep.dispatch,
    EventState.dispatched: TimeLimitStep.handle,
    EventState.handled: TimeLimitStep.close,
    EventState.closed: TimeLimitStep.review,
}
