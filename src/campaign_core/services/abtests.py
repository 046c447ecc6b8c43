"""ABTestService: A/B tests on campaigns: create, assign, track, decide, apply.

Hosts reach it as ``ws.abtests``, or through ``ws.campaigns`` (which delegates
its A/B methods here).

A test belongs to one campaign and has 2..10 variants, exactly one control, and
a traffic split summing to 100. Fans are assigned deterministically and
stickily (:func:`campaign_core.abtesting.assign_variant`). Counters grow with
atomic increments, so concurrent tracking is exact. ``determine_winner``
runs :func:`campaign_core.abtesting.decide` with the test's settings;
``apply_winner`` copies the winner's content into the campaign and
completes the test with ``winnerId`` and ``significance``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs

from campaign_core._runtime import Runtime, Service, Tx
from campaign_core._validate import (
    MISSING,
    check_unknown,
    v_bool,
    v_enum,
    v_id,
    v_int,
    v_json_object,
    v_number,
    v_text,
)
from campaign_core.abtesting import (
    Guardrail,
    WinnerDecision,
    assign_variant,
    decide_and_record,
    decide_recorded,
    validate_traffic_split,
)
from campaign_core.abtesting import planned_horizon as planned_horizon_for
from campaign_core.audit import audited
from campaign_core.catalog import deep_merge
from campaign_core.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    ProblemCollector,
    ValidationError,
    join_path,
)
from campaign_core.models import (
    ABTest,
    ABTestStatus,
    ABTestVariant,
    Campaign,
    CampaignStatus,
    StrEnum,
    WinnerValidation,
)
from campaign_core.permissions import Actor, Permission
from campaign_core.publishing import check_content
from campaign_core.query import And, Eq, In, Order
from campaign_core.stats import SPENDING_FUNCTIONS

__all__: list[str] = []

MAX_VARIANTS: Final = 10
_MAX_COUNT: Final = 10**12


class TestPolicy(StrEnum):
    FIXED_HORIZON = "fixed_horizon"
    ALWAYS_VALID = "always_valid"
    BAYESIAN = "bayesian"
    GROUP_SEQUENTIAL = "group_sequential"


class TestMetric(StrEnum):
    CONVERSION_RATE = "conversion_rate"
    CLICK_THROUGH_RATE = "click_through_rate"
    CLICK_CONVERSION_RATE = "click_conversion_rate"
    REVENUE_PER_IMPRESSION = "revenue_per_impression"


@attrs.frozen
class ABTestDetails:
    """A test with its variants (control first, then in creation order)."""

    test: ABTest
    variants: tuple[ABTestVariant, ...]

    @property
    def id(self) -> str:
        return self.test.id

    @property
    def status(self) -> ABTestStatus:
        return self.test.status

    def variant(self, name: str) -> ABTestVariant:
        """The variant called ``name``."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise NotFoundError("variant", name)


def _baseline(
    decision: WinnerDecision, variants: Sequence[ABTestVariant], winner: ABTestVariant
) -> str:
    """The arm the winner was declared better than: the control, or (when the control won)
    the challenger with the highest observed rate."""
    control = next(v for v in variants if v.is_control)
    if winner.id != control.id:
        return control.id
    rates = {s.id: s.value for s in decision.variants if s.id != control.id}
    return max(rates, key=lambda key: (rates[key], key))


class ABTestService:
    """A/B tests of one account, as one actor (``core.for_actor(actor).abtests``)."""

    def __init__(self, runtime: Runtime, actor: Actor) -> None:
        self._svc = Service(runtime, actor)
        self._rt = runtime

    # ------------------------------------------------------------------ helpers
    def _load(self, tx: Tx, campaign_id: Any) -> Campaign:
        if not isinstance(campaign_id, str):
            raise ValidationError.single("campaign_id", "expected an id string", "invalid_type")
        campaign: Campaign = self._svc._owned(
            tx.uow.campaigns.get(campaign_id), "campaign", campaign_id
        )
        return campaign

    def _load_test(self, tx: Tx, test_id: Any) -> ABTest:
        if not isinstance(test_id, str):
            raise ValidationError.single("test_id", "expected an id string", "invalid_type")
        test: ABTest = self._svc._owned(tx.uow.ab_tests.get(test_id), "ab_test", test_id)
        return test

    @staticmethod
    def _variants(tx: Tx, test_id: str) -> tuple[ABTestVariant, ...]:
        variants = tx.uow.ab_test_variants.find(
            Eq("test_id", test_id),
            order_by=[Order("is_control", True), Order("created_at"), Order("id")],
        )
        return tuple(variants)

    def _details(self, tx: Tx, test: ABTest) -> ABTestDetails:
        return ABTestDetails(test=test, variants=self._variants(tx, test.id))

    # ------------------------------------------------------------------ create
    @audited("ab_test.create")
    def create_ab_test(
        self,
        campaign_id: str,
        variants: Any,
        traffic_split: Any = None,
        *,
        name: Any = MISSING,
        min_sample_size: Any = 100,
        confidence_level: Any = 0.95,
        policy: Any = "fixed_horizon",
        planned_mde: Any = None,
        metric: Any = "conversion_rate",
        baseline_rate: Any = None,
        planned_horizon: Any = None,
        guardrails: Any = None,
        risk_threshold: Any = None,
        prob_threshold: Any = None,
        spending: Any = None,
        **unknown: Any,
    ) -> ABTestDetails:
        """Start an A/B(/n) test on a campaign.

        Args:
            campaign_id: a draft, scheduled, active or paused campaign without a
                running test.
            variants: 2..10 objects ``{"name", "content", "isControl"?}``; names
                unique; exactly one control (the first, if none is flagged).
                ``content`` is merged over the campaign's content when applied.
            traffic_split: ``{name: percentage}`` summing to 100; equal by default.
            name: the test's name (default: "<campaign name> A/B test").
            min_sample_size: impressions each variant needs before a decision (seed: 100).
            confidence_level: in (0.5, 1) (seed: 0.95).
            policy: ``fixed_horizon`` (the seed's, decide once at the planned
                size), ``always_valid`` (re-check as data streams in) or
                ``bayesian`` (a winner once it is probable enough and its
                expected loss small enough; rate metrics only).
            planned_mde: the relative effect the test is sized for (e.g. 0.1).
            metric: what the test decides on, stored with it (``determine_winner``
                and ``apply_winner`` use it): conversion_rate (the seed's),
                click_through_rate, click_conversion_rate or revenue_per_impression.
            baseline_rate: the control rate you expect (a rate metric), in (0, 1).
                With ``planned_mde`` it fixes the plan now, once: a
                ``fixed_horizon`` test's planned size
                (:func:`~campaign_core.abtesting.planned_horizon`, no winner
                before it), and an ``always_valid`` test's mixing ``tau``
                (the planned absolute effect; 10 % of the baseline without
                ``planned_mde``). Without it an always-valid test fixes ``tau``
                at its first decision past the floors.
            planned_horizon: the planned size (total trials over the variants)
                when you computed it yourself; not with ``baseline_rate``.
            guardrails: metrics a winner must not degrade, stored with the test:
                ``[{"metric", "margin", "relative"?}]`` (margin relative to the
                control's value by default); a would-be winner must pass a
                non-inferiority test on each (``guardrail_failed`` otherwise).
            risk_threshold: the ``bayesian`` policy's threshold of caring
                (default 0.0025 of the control's rate); only with that policy.
            prob_threshold: the ``bayesian`` policy's probability to beat the
                control (default 0.95); only with that policy.
            spending: a ``group_sequential`` test's Lan-DeMets spending function:
                ``obrien_fleming`` (default) or ``pocock``. Such a test needs its
                planned size (``baseline_rate`` with ``planned_mde``, or
                ``planned_horizon``): each ``determine_winner`` is a look at
                its information fraction, recorded with the test.

        Returns:
            The test and its variants.

        Raises:
            ValidationError: every bad field, with paths like ``variants[1].name``.
            ConflictError: the campaign already has a running test.
            InvalidTransitionError: the campaign is completed or cancelled.
        """
        self._svc._require(Permission.WRITE)
        problems = ProblemCollector()
        check_unknown(
            unknown,
            problems,
            (
                "traffic_split",
                "name",
                "min_sample_size",
                "confidence_level",
                "policy",
                "planned_mde",
                "metric",
                "baseline_rate",
                "planned_horizon",
                "guardrails",
                "risk_threshold",
                "prob_threshold",
                "spending",
            ),
        )
        specs = self._clean_variants(variants, problems)
        names = [s["name"] for s in specs] if specs is not None else []
        split: dict[str, float] | None = None
        if specs is not None and not problems:
            if traffic_split is None:
                share = 100.0 / len(names)
                split = dict.fromkeys(names, share)
            else:
                try:
                    split = validate_traffic_split(traffic_split, names)
                except ValidationError as error:
                    problems.extend(error)
        test_name = None if name is MISSING else v_text(name, "name", problems, max_length=200)
        size = v_int(min_sample_size, "min_sample_size", problems, minimum=1, maximum=10**9)
        level = v_number(
            confidence_level, "confidence_level", problems, minimum=0.5, maximum=0.9999
        )
        if level is not None and level == 0.5:
            problems.add("confidence_level", "must be > 0.5", "out_of_range")
        clean_policy = v_enum(policy, "policy", problems, TestPolicy)
        mde = None
        if planned_mde is not None:
            mde = v_number(
                planned_mde,
                "planned_mde",
                problems,
                minimum=0.0,
                maximum=10.0,
                exclusive_minimum=True,
            )
        clean_metric = v_enum(metric, "metric", problems, TestMetric)
        baseline = None
        if baseline_rate is not None:
            baseline = v_number(
                baseline_rate, "baseline_rate", problems, minimum=0.0, exclusive_minimum=True
            )
            if baseline is not None and baseline >= 1.0:
                problems.add("baseline_rate", "must be below 1", "out_of_range")
            if clean_metric is TestMetric.REVENUE_PER_IMPRESSION:
                problems.add(
                    "baseline_rate", "is a rate: not for revenue_per_impression", "invalid_value"
                )
        if (
            clean_policy is TestPolicy.BAYESIAN
            and clean_metric is TestMetric.REVENUE_PER_IMPRESSION
        ):
            problems.add(
                "policy",
                "bayesian decides on rates: not for revenue_per_impression",
                "invalid_value",
            )
        clean_guardrails = None
        if guardrails is not None:
            try:
                clean_guardrails = [g.to_dict() for g in Guardrail.parse_list(guardrails)] or None
            except ValidationError as error:
                problems.extend(error)
        thresholds: dict[str, float | None] = {"risk_threshold": None, "prob_threshold": None}
        for field, value, low, high in (
            ("risk_threshold", risk_threshold, 0.0, 1.0),
            ("prob_threshold", prob_threshold, 0.5, 1.0),
        ):
            if value is None:
                continue
            if clean_policy is not None and clean_policy is not TestPolicy.BAYESIAN:
                problems.add(field, "is only for the bayesian policy", "invalid_value")
                continue
            number = v_number(value, field, problems, minimum=low, maximum=high)
            if number is not None and (
                number == high or (field == "risk_threshold" and number == 0)
            ):
                problems.add(field, f"must be inside ({low:g}, {high:g})", "out_of_range")
            thresholds[field] = number
        clean_spending = None
        if clean_policy is TestPolicy.GROUP_SEQUENTIAL:
            clean_spending = "obrien_fleming" if spending is None else spending
            if clean_spending not in SPENDING_FUNCTIONS:
                problems.add(
                    "spending",
                    f"must be one of {', '.join(SPENDING_FUNCTIONS)}, got {spending!r}",
                    "invalid_value",
                )
            if planned_horizon is None and (baseline_rate is None or planned_mde is None):
                problems.add(
                    "planned_horizon",
                    "a group_sequential test needs its planned size: baseline_rate with"
                    " planned_mde, or planned_horizon",
                    "required",
                )
        elif spending is not None:
            problems.add("spending", "is only for the group_sequential policy", "invalid_value")
        horizon = None
        if planned_horizon is not None:
            horizon = v_int(
                planned_horizon, "planned_horizon", problems, minimum=1, maximum=_MAX_COUNT
            )
            if baseline_rate is not None:
                problems.add(
                    "planned_horizon",
                    "give planned_horizon, or baseline_rate with planned_mde, not both",
                    "invalid_value",
                )
        problems.raise_if_any()
        assert specs is not None and split is not None and size is not None and level is not None
        assert clean_policy is not None and clean_metric is not None
        tau = None
        if baseline is not None:
            # the plan, fixed now: never recomputed from the data at a look
            tau = (mde if mde is not None else 0.1) * baseline
            if (
                clean_policy in (TestPolicy.FIXED_HORIZON, TestPolicy.GROUP_SEQUENTIAL)
                and mde is not None
            ):
                control = next(s["name"] for s in specs if s["is_control"])
                shares = [split[control], *(split[n] for n in names if n != control)]
                try:
                    horizon = planned_horizon_for(
                        baseline, mde, shares=shares, confidence_level=level
                    )
                except ValidationError as error:
                    raise ValidationError.single(
                        "planned_mde",
                        f"cannot plan this test: {error.problems[0].message}"
                        f" ({error.problems[0].path})",
                        "invalid_value",
                    ) from None
        now = self._rt.now()
        with self._rt.transaction() as tx:
            campaign = self._load(tx, campaign_id)
            if campaign.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
                raise InvalidTransitionError(campaign.status.value, "start an A/B test on")
            running = tx.uow.ab_tests.count(
                And(Eq("campaign_id", campaign.id), Eq("status", ABTestStatus.RUNNING))
            )
            if running:
                raise ConflictError(
                    "the campaign already has a running A/B test; complete or cancel it first",
                    details={"campaign_id": campaign.id},
                )
            test = ABTest(
                id=self._rt.ids.new_id("abtest"),
                user_id=campaign.user_id,
                name=test_name or f"{campaign.name} A/B test"[:200],
                traffic_split=split,
                min_sample_size=size,
                confidence_level=level,
                started_at=now,
                created_at=now,
                updated_at=now,
                campaign_id=campaign.id,
                policy=clean_policy.value,
                planned_mde=mde,
                metric=clean_metric.value,
                baseline_rate=baseline,
                planned_horizon=horizon,
                mixing_tau=tau,
                guardrails=clean_guardrails,
                risk_threshold=thresholds["risk_threshold"],
                prob_threshold=thresholds["prob_threshold"],
                spending=clean_spending,
            )
            tx.uow.ab_tests.add(test)
            rows = [
                ABTestVariant(
                    id=self._rt.ids.new_id("variant"),
                    test_id=test.id,
                    name=spec["name"],
                    is_control=spec["is_control"],
                    content=spec["content"],
                    created_at=now,
                    updated_at=now,
                )
                for spec in specs
            ]
            tx.uow.ab_test_variants.add_many(rows)
            tx.uow.campaigns.update(
                attrs.evolve(
                    campaign,
                    is_ab_test=True,
                    ab_test_id=test.id,
                    updated_at=now,
                    version=campaign.version + 1,
                )
            )
            details = self._details(tx, test)
            tx.after_commit.append(lambda: self._rt.emitter.ab_test_created(owner_id=test.user_id))
        return details

    def _clean_variants(
        self, value: Any, problems: ProblemCollector
    ) -> list[dict[str, Any]] | None:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            problems.add("variants", "expected a list of variants", "invalid_type")
            return None
        if not 2 <= len(value) <= MAX_VARIANTS:
            problems.add("variants", f"a test needs 2 to {MAX_VARIANTS} variants", "out_of_range")
            return None
        specs: list[dict[str, Any]] = []
        allowed = {"name", "content", "isControl", "is_control"}
        ok = True
        for index, item in enumerate(value):
            path = join_path("variants", index)
            if not isinstance(item, Mapping):
                problems.add(path, "expected an object", "invalid_type")
                ok = False
                continue
            for key in item:
                if key not in allowed:
                    problems.add(join_path(path, str(key)), "unknown field", "unknown_field")
                    ok = False
            variant_name = v_text(
                item.get("name"), join_path(path, "name"), problems, max_length=100
            )
            content = v_json_object(item.get("content", {}), join_path(path, "content"), problems)
            if content is not None:
                try:
                    check_content(
                        content,
                        path=join_path(path, "content"),
                        platforms=self._rt.settings.platforms.names,
                    )
                except ValidationError as error:
                    problems.extend(error)
                    ok = False
            flag = item.get("isControl", item.get("is_control", False))
            control = v_bool(flag, join_path(path, "isControl"), problems)
            if variant_name is None or content is None or control is None:
                ok = False
                continue
            if any(s["name"] == variant_name for s in specs):
                problems.add(
                    join_path(path, "name"), f"{variant_name!r} is used twice", "duplicate"
                )
                ok = False
            specs.append({"name": variant_name, "content": content, "is_control": control})
        if not ok:
            return None
        controls = [s for s in specs if s["is_control"]]
        if len(controls) > 1:
            problems.add("variants", "exactly one variant may be the control", "invalid_value")
            return None
        if not controls:
            specs[0]["is_control"] = True
        return specs

    # ------------------------------------------------------------------ read
    def get_ab_test(self, test_id: str) -> ABTestDetails:
        """A test and its variants.

        Raises:
            NotFoundError: no such test in the actor's account.
        """
        self._svc._require(Permission.READ)
        with self._rt.transaction() as tx:
            return self._details(tx, self._load_test(tx, test_id))

    def list_ab_tests(self, *, campaign_id: Any = None, status: Any = None) -> list[ABTestDetails]:
        """The account's tests, newest first, optionally for one campaign or status."""
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        conds: list[Any] = [Eq("user_id", self._svc.account_id)]
        if campaign_id is not None and v_id(campaign_id, "campaign_id", problems):
            conds.append(Eq("campaign_id", campaign_id))
        if status is not None:
            clean = v_enum(status, "status", problems, ABTestStatus)
            if clean is not None:
                conds.append(In("status", [clean]))
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            tests = tx.uow.ab_tests.find(
                And(*conds), order_by=[Order("created_at", True), Order("id", True)]
            )
            return [self._details(tx, t) for t in tests]

    def get_variant_for_fan(self, test_id: str, fan_id: Any) -> ABTestVariant:
        """The variant a fan sees: deterministic and sticky (same fan, same variant).

        Raises:
            InvalidTransitionError: the test is no longer running.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        v_id(fan_id, "fan_id", problems)
        problems.raise_if_any()
        with self._rt.transaction() as tx:
            test = self._load_test(tx, test_id)
            variants = self._variants(tx, test.id)
            if test.status is not ABTestStatus.RUNNING:
                validation = self._open_validation(tx, test)
                if validation is None:
                    raise InvalidTransitionError(
                        test.status.value, "assign a fan in", entity="ab_test"
                    )
                # the validation holdout: a share keeps the baseline, the rest get the winner
                chosen_id = assign_variant(
                    f"{test.id}:validation",
                    fan_id,
                    {
                        validation.baseline_id: validation.holdout_percent,
                        validation.winner_id: 100.0 - validation.holdout_percent,
                    },
                )
                return next(v for v in variants if v.id == chosen_id)
            chosen = assign_variant(test.id, fan_id, test.traffic_split)
            return next(v for v in variants if v.name == chosen)

    def _open_validation(self, tx: Tx, test: ABTest) -> WinnerValidation | None:
        found = tx.uow.ab_test_validations.get(test.id)
        if found is None or found.status != "open" or found.ends_at <= self._rt.now():
            return None
        return found

    # ------------------------------------------------------------------ track
    @audited("ab_test.track")
    def track_variant_performance(
        self, variant_id: str, metrics: Any = None, **counts: Any
    ) -> ABTestVariant:
        """Add counts to a variant of a running test (atomic, exact under concurrency).

        Args:
            variant_id: the variant.
            metrics: ``{"impressions", "clicks", "conversions", "revenue",
                "revenueSumSquares"}`` (any subset), as the seed passes them;
                or the same as keyword arguments (snake_case).

        When ``revenue`` comes without ``revenueSumSquares``, each conversion is
        taken to carry an equal share of it (so the revenue-per-impression test
        stays usable). That is exact for one conversion at a time, but for a
        batch of sales of different values it is the smallest possible sum of
        squares: the variance is underestimated and Welch's test finds
        differences too easily. Pass the sum of squares when you batch, or track
        conversions one by one through ``ws.analytics`` (which keeps it exact).

        Returns:
            The variant with its new totals.

        Raises:
            ValidationError: negative, non-integer, non-finite or huge counts,
                or unknown fields.
            InvalidTransitionError: the test is completed or cancelled.
        """
        self._svc._require(Permission.TRACK)
        problems = ProblemCollector()
        given: dict[str, Any] = {}
        if metrics is not None:
            if not isinstance(metrics, Mapping):
                raise ValidationError.single("metrics", "expected an object", "invalid_type")
            given.update(metrics)
        given.update(counts)
        aliases = {"revenueSumSquares": "revenue_sum_squares"}
        deltas: dict[str, float] = {}
        for key, value in given.items():
            field = aliases.get(key, key)
            if field in ("impressions", "clicks", "conversions"):
                clean_int = v_int(value, key, problems, minimum=0, maximum=_MAX_COUNT)
                if clean_int:
                    deltas[field] = clean_int
            elif field == "revenue":
                clean = v_number(value, key, problems, minimum=-1e12, maximum=1e12)
                if clean:
                    deltas[field] = clean
            elif field == "revenue_sum_squares":
                clean = v_number(value, key, problems, minimum=0.0, maximum=1e24)
                if clean:
                    deltas[field] = clean
            else:
                problems.add(
                    key,
                    "unknown field (impressions, clicks, conversions, revenue, revenueSumSquares)",
                    "unknown_field",
                )
        problems.raise_if_any()
        if "revenue" in deltas and "revenue_sum_squares" not in deltas:
            n = deltas.get("conversions", 1) or 1
            deltas["revenue_sum_squares"] = n * (deltas["revenue"] / n) ** 2
        with self._rt.transaction() as tx:
            variant, validation = self._load_variant(tx, variant_id)
            if validation is not None:
                # after the decision, counts go to the validation holdout, not the test
                arm = "winner" if variant.id == validation.winner_id else "baseline"
                moves = {
                    f"{arm}_impressions": deltas.get("impressions", 0),
                    f"{arm}_conversions": deltas.get("conversions", 0),
                }
                if any(moves.values()):
                    tx.uow.ab_test_validations.increment(validation.id, moves)
            elif deltas:
                tx.uow.ab_test_variants.increment(variant.id, deltas)
            updated = tx.uow.ab_test_variants.get(variant.id)
        assert updated is not None
        return updated

    def _load_variant(
        self, tx: Tx, variant_id: Any
    ) -> tuple[ABTestVariant, WinnerValidation | None]:
        if not isinstance(variant_id, str):
            raise ValidationError.single("variant_id", "expected an id string", "invalid_type")
        variant = tx.uow.ab_test_variants.get(variant_id)
        test = None if variant is None else tx.uow.ab_tests.get(variant.test_id)
        if variant is None or test is None or test.user_id != self._svc.account_id:
            raise NotFoundError("variant", variant_id)
        if test.status is not ABTestStatus.RUNNING:
            validation = self._open_validation(tx, test)
            if validation is None or variant.id not in (
                validation.winner_id,
                validation.baseline_id,
            ):
                raise InvalidTransitionError(test.status.value, "track", entity="ab_test")
            return variant, validation
        return variant, None

    # ------------------------------------------------------------------ decide
    def determine_winner(
        self,
        test_id: str,
        *,
        policy: Any = None,
        metric: Any = None,
        secondary_metrics: Any = None,
    ) -> WinnerDecision:
        """Decide the test now: a winner or none, with the reason and the evidence.

        Uses the test's metric, confidence level, ``minSampleSize``, planned
        effect and horizon (a fixed-horizon test names no winner before its
        planned size) and traffic split (a sample-ratio mismatch blocks a
        winner), the seed's per-variant minimums (1000 impressions, 100 clicks,
        30 conversions), Holm-adjusted p-values for A/B/n, and the test's
        policy unless ``policy`` overrides it. An ``always_valid`` test records
        the look: each treatment's running minimum p-value (so a winner does
        not disappear at a later look) and, if it was not fixed at creation,
        the mixing ``tau`` (fixed at its first look past the floors). Nothing
        else is written.

        Args:
            test_id: the test.
            policy: ``fixed_horizon``, ``always_valid`` or ``bayesian``
                (default: the test's).
            metric: conversion_rate, click_through_rate, click_conversion_rate
                or revenue_per_impression (default: the test's; another is a
                side look, not recorded).
            secondary_metrics: metric names reported for each treatment,
                Holm-adjusted together, never decided on.
        """
        self._svc._require(Permission.READ)
        problems = ProblemCollector()
        clean_policy = None if policy is None else v_enum(policy, "policy", problems, TestPolicy)
        clean_metric = None if metric is None else v_enum(metric, "metric", problems, TestMetric)
        problems.raise_if_any()
        for _attempt in range(3):
            with self._rt.transaction() as tx:
                test = self._load_test(tx, test_id)
                variants = self._variants(tx, test.id)
                decision, updated = decide_and_record(
                    test,
                    variants,
                    policy=clean_policy.value if clean_policy else None,
                    metric=clean_metric.value if clean_metric else None,
                    secondary_metrics=secondary_metrics,
                )
                if updated is None or test.status is not ABTestStatus.RUNNING:
                    break
                try:
                    tx.uow.ab_tests.update(
                        attrs.evolve(updated, updated_at=self._rt.now(), version=test.version + 1)
                    )
                    break
                except ConflictError:
                    continue  # another look landed first: decide again on its state
        self._rt.emitter.ab_test_decision(
            outcome="winner" if decision.winner_id else decision.reason.value, owner_id=test.user_id
        )
        return decision

    @audited("ab_test.apply_winner")
    def apply_winner(self, test_id: str) -> ABTestDetails:
        """Copy the winner's content into the campaign and complete the test.

        The winner's content is merged over the campaign's (its content
        version grows; published posts are not changed: publish again with
        ``publish_to_platforms`` if you want the new content out). The test is
        completed with ``winnerId`` and ``significance`` (1 - the Holm-adjusted
        p-value behind the decision).

        Raises:
            ConflictError: the test has no winner yet (the decision's reason is
                in the error's details).
            InvalidTransitionError: the test is not running.
        """
        self._svc._require(Permission.LIFECYCLE)
        now = self._rt.now()
        with self._rt.transaction() as tx:
            test = self._load_test(tx, test_id)
            if test.status is not ABTestStatus.RUNNING:
                raise InvalidTransitionError(
                    test.status.value, "apply the winner of", entity="ab_test"
                )
            variants = self._variants(tx, test.id)
            # the test's own metric, policy, horizon, tau and running minima
            decision = decide_recorded(test, variants, bayesian=False)
            if decision.winner_id is None:
                raise ConflictError(
                    f"no winner to apply: {decision.message}",
                    details={"reason": decision.reason.value, "decision": decision.to_dict()},
                )
            winner = next(v for v in variants if v.id == decision.winner_id)
            if test.campaign_id is not None:
                campaign = tx.uow.campaigns.get(test.campaign_id)
                if campaign is not None and campaign.status not in (
                    CampaignStatus.COMPLETED,
                    CampaignStatus.CANCELLED,
                ):
                    tx.uow.campaigns.update(
                        attrs.evolve(
                            campaign,
                            content=deep_merge(campaign.content, winner.content),
                            content_version=campaign.content_version + 1,
                            updated_at=now,
                            version=campaign.version + 1,
                        )
                    )
            done = attrs.evolve(
                test,
                status=ABTestStatus.COMPLETED,
                winner_id=winner.id,
                significance=decision.significance,
                completed_at=now,
                updated_at=now,
                version=test.version + 1,
            )
            tx.uow.ab_tests.update(done)
            holdout = self._rt.settings.winner_holdout_percent
            if holdout > 0:
                tx.uow.ab_test_validations.add(
                    WinnerValidation(
                        id=test.id,
                        owner_id=test.user_id,
                        test_id=test.id,
                        winner_id=winner.id,
                        baseline_id=_baseline(decision, variants, winner),
                        decided_at=now,
                        ends_at=now + self._rt.settings.winner_validation_window,
                        holdout_percent=holdout,
                    )
                )
            details = ABTestDetails(test=done, variants=variants)
            tx.after_commit.append(
                lambda: self._rt.emitter.ab_test_completed(has_winner=True, owner_id=done.user_id)
            )
        return details

    @audited("ab_test.cancel")
    def cancel_ab_test(self, test_id: str) -> ABTestDetails:
        """Stop a running test without a winner."""
        self._svc._require(Permission.LIFECYCLE)
        now = self._rt.now()
        with self._rt.transaction() as tx:
            test = self._load_test(tx, test_id)
            if test.status is not ABTestStatus.RUNNING:
                raise InvalidTransitionError(test.status.value, "cancel", entity="ab_test")
            done = attrs.evolve(
                test,
                status=ABTestStatus.CANCELLED,
                completed_at=now,
                updated_at=now,
                version=test.version + 1,
            )
            tx.uow.ab_tests.update(done)
            details = self._details(tx, done)
            tx.after_commit.append(
                lambda: self._rt.emitter.ab_test_completed(has_winner=False, owner_id=done.user_id)
            )
        return details
