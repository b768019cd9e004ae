"""PURE: every metric slaprobe serves, once: name, type, help and label names.

The metrics code builds its families and instruments from these entries, and the
tests (the deploy contract list among them) read the names from here, so a metric
cannot be renamed in one place and not the other. `name` is the family name; a
counter's sample is `name + "_total"`, a histogram's `_bucket`, `_sum`, `_count`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    kind: str  # "counter", "gauge" or "histogram"
    help: str
    labels: tuple[str, ...] = ()

    @property
    def sample(self) -> str:
        """The name a query selects (a counter's `_total`; a histogram's base name)."""
        return self.name + "_total" if self.kind == "counter" else self.name


T, TW, S, SW = ("target",), ("target", "window"), ("service",), ("service", "window")

# per target, derived from the timelines at scrape time
PROBE_SUCCESS = MetricDef("slaprobe_probe_success", "gauge", "Last check: 1 ok, 0 failed.", T)
LAST_CHECK = MetricDef("slaprobe_last_check_timestamp_seconds", "gauge",
                       "When the last check started.", T)
TARGET_UP = MetricDef("slaprobe_target_up", "gauge",
                      "Current state: 1 up, 0 down, NaN unknown or probe_network.", T)
TARGET_CRITICAL = MetricDef("slaprobe_target_critical", "gauge",
                            "1 if the target counts against the SLA (critical).", T)
MAINTENANCE_ACTIVE = MetricDef("slaprobe_maintenance_active", "gauge",
                               "1 inside an excluded maintenance window.", T)
UP_SECONDS = MetricDef("slaprobe_up_seconds", "counter", "Seconds credited as up.", T)
DOWN_SECONDS = MetricDef("slaprobe_down_seconds", "counter", "Seconds credited as down.", T)
EXCLUDED_SECONDS = MetricDef("slaprobe_excluded_seconds", "counter",
                             "Seconds excluded, by reason.", ("target", "reason"))
AVAILABILITY = MetricDef("slaprobe_availability_ratio", "gauge",
                         "Time-weighted availability per window.", TW)
COVERAGE = MetricDef("slaprobe_coverage_ratio", "gauge", "Share of the window with data.", TW)

# the service
SERVICE_UP = MetricDef("slaprobe_service_up", "gauge",
                       "Service state: 1 up, 0 down, NaN else.", S)
SERVICE_UP_SECONDS = MetricDef("slaprobe_service_up_seconds", "counter",
                               "Seconds credited to the service as up.", S)
SERVICE_DOWN_SECONDS = MetricDef("slaprobe_service_down_seconds", "counter",
                                 "Seconds credited to the service as down.", S)
SERVICE_EXCLUDED_SECONDS = MetricDef("slaprobe_service_excluded_seconds", "counter",
                                     "Service seconds excluded, by reason.",
                                     ("service", "reason"))
OBJECTIVE = MetricDef("slaprobe_slo_objective_ratio", "gauge", "The SLO objective.", S)
SERVICE_AVAILABILITY = MetricDef("slaprobe_service_availability_ratio", "gauge",
                                 "The SLA figure: service availability per window.", SW)
BUDGET_REMAINING = MetricDef("slaprobe_error_budget_remaining_ratio", "gauge",
                             "Error budget remaining per window.", SW)
SERVICE_COVERAGE = MetricDef("slaprobe_service_coverage_ratio", "gauge",
                             "Share of the window with service data.", SW)
BURN_RATE = MetricDef("slaprobe_burn_rate", "gauge", "Error budget burn rate per window.", SW)
MAINTENANCE_WINDOWS = MetricDef("slaprobe_maintenance_windows", "gauge",
                                "Known windows by status.", ("status",))

# events in the process
PROBE_DURATION = MetricDef("slaprobe_probe_duration_seconds", "histogram",
                           "Latency of probe attempts.", T)
PROBES = MetricDef("slaprobe_probes", "counter",
                   "Probe attempts by result (success or an error kind).", ("target", "result"))
SCHEDULER_LAG = MetricDef("slaprobe_scheduler_lag_seconds", "histogram",
                          "How late checks start after their slot.")
STORE_ERRORS = MetricDef("slaprobe_store_errors", "counter", "Failed database writes (retried).")
STORE_PENDING = MetricDef("slaprobe_store_pending_checks", "gauge",
                          "Checks waiting to be written.")
STORE_SPOOLED = MetricDef("slaprobe_store_spooled_checks", "gauge",
                          "Checks waiting to be written that are kept in the spool file.")
SPOOL_DROPPED = MetricDef("slaprobe_store_spool_dropped", "counter",
                          "Checks dropped because the spool file reached its size bound.")
RELOADS = MetricDef("slaprobe_config_reloads", "counter", "Config reloads by result.",
                    ("result",))
RELOAD_OK = MetricDef("slaprobe_config_last_reload_successful", "gauge",
                      "1 if the last config reload worked.")
RELOAD_TIME = MetricDef("slaprobe_config_last_reload_success_timestamp_seconds", "gauge",
                        "When the config was last loaded successfully.")
FEED_ERRORS = MetricDef("slaprobe_maintenance_feed_errors", "counter",
                        "Failed maintenance feed fetches.", ("source",))
MAINTENANCE_FILE_PROBLEMS = MetricDef(
    "slaprobe_maintenance_file_problems", "gauge", "Problems found in the maintenance file at"
    " its last read (0: valid); while above 0 its last good windows apply.")
UNKNOWN_CHECKS = MetricDef("slaprobe_unknown_checks", "counter",
                           "Checks of unknown outcome (slaprobe's own failure), by reason; "
                           "their time is unknown, never down.", ("target", "reason"))
HISTORY_VERIFIED = MetricDef(
    "slaprobe_history_verified", "gauge", "1 if the last verification of the history's hash"
    " chain found it intact, 0 if a record was changed, deleted or inserted outside"
    " slaprobe.")
HISTORY_VERIFIED_TIME = MetricDef("slaprobe_history_verified_timestamp_seconds", "gauge",
                                  "When the history's hash chain was last verified intact.")
STATEMENT_INFO = MetricDef(
    "slaprobe_statement_info", "gauge", "1 for each closed month's chained statement; its"
    " chain record's seq and digest are a witness of the history's head then (kept by"
    " Prometheus, out of the database's reach).", ("month", "seq", "digest"))
CLOCK_STEPS = MetricDef("slaprobe_clock_steps", "counter", "Wall-clock steps seen against the"
                        " monotonic clock, by direction (backward, forward).", ("direction",))
CLOCK_OFFSET = MetricDef("slaprobe_clock_offset_seconds", "gauge", "Wall clock minus the time"
                         " slaprobe records: negative while it holds the monotonic-derived time"
                         " after a step back.")
STORE_FILE_OK = MetricDef("slaprobe_store_file_ok", "gauge", "1 while the database file is the"
                          " one slaprobe opened; 0 when it was removed or replaced (writes"
                          " would be lost).")

# certificates of TLS checks (DESIGN "Check kinds, certificates, degraded, JSON"), from the
# last attempt whose handshake completed
TLS_LEAF_EXPIRY = MetricDef("slaprobe_tls_leaf_expiry_timestamp_seconds", "gauge",
                            "When the leaf certificate of the target's TLS expires (not-after).",
                            T)
TLS_CHAIN_EXPIRY = MetricDef(
    "slaprobe_tls_chain_expiry_timestamp_seconds", "gauge", "Earliest not-after in the"
    " certificate chain that was verified (leaf and trust anchor used included; unused roots"
    " not).", T)

# degraded time and the latency SLI, for targets with a degraded_latency
DEGRADED_SECONDS = MetricDef("slaprobe_degraded_seconds", "counter",
                             "Seconds credited as up that were degraded (successful checks"
                             " slower than degraded_latency).", T)
LATENCY_SLI = MetricDef("slaprobe_latency_sli_ratio", "gauge",
                        "Share of up time that was not degraded, per window.", TW)
LATENCY_OBJECTIVE = MetricDef("slaprobe_latency_objective_ratio", "gauge",
                              "The target's latency_objective (the latency SLI's).", T)

# incidents (DESIGN "Incidents"), judged at scrape time
INCIDENTS_OPEN = MetricDef("slaprobe_incidents_open", "gauge",
                           "Open incidents (SLA section 4), by priority.", ("priority",))
INCIDENT_DEADLINE = MetricDef(
    "slaprobe_incident_deadline_timestamp_seconds", "gauge", "Earliest deadline among open"
    " incidents (response: not yet acknowledged), by priority and clock.",
    ("priority", "clock"))
INCIDENT_BUSINESS_LEFT = MetricDef("slaprobe_incident_business_seconds_left", "gauge",
                                   "Business seconds to that deadline; negative once breached.",
                                   ("priority", "clock"))
INCIDENTS = MetricDef("slaprobe_incidents", "gauge",
                      "Incidents that started in the window, by priority and resolution.",
                      ("priority", "resolution", "window"))
BUILD_INFO = MetricDef("slaprobe_build_info", "gauge", "Build information.", ("version",))

# several locations on one history ("Many vantage points" in DESIGN)
LEADER = MetricDef("slaprobe_leader", "gauge", "1 on the daemon that holds the history's"
                   " once-only duties (freezing a closed month's statement), 0 on the others.")
LOCATION_LAST_CHECK = MetricDef(
    "slaprobe_location_last_check_timestamp_seconds", "gauge", "Start of each location's"
    " newest check in the history (on a shared history every daemon serves every location).",
    ("vantage",))
LOCATION_SILENCE = MetricDef("slaprobe_location_silence_seconds", "gauge", "How long a location"
                             " may add no check to the history before it counts as silent:"
                             " three of the shortest intervals, at least 30 s.")

ALL: tuple[MetricDef, ...] = (
    PROBE_SUCCESS, LAST_CHECK, TARGET_UP, TARGET_CRITICAL, MAINTENANCE_ACTIVE, UP_SECONDS,
    DOWN_SECONDS, EXCLUDED_SECONDS, AVAILABILITY, COVERAGE, SERVICE_UP, SERVICE_UP_SECONDS,
    SERVICE_DOWN_SECONDS, SERVICE_EXCLUDED_SECONDS, OBJECTIVE, SERVICE_AVAILABILITY,
    BUDGET_REMAINING, SERVICE_COVERAGE, BURN_RATE, MAINTENANCE_WINDOWS, PROBE_DURATION, PROBES,
    SCHEDULER_LAG, STORE_ERRORS, STORE_PENDING, STORE_SPOOLED, SPOOL_DROPPED, RELOADS,
    RELOAD_OK, RELOAD_TIME, FEED_ERRORS,
    MAINTENANCE_FILE_PROBLEMS, UNKNOWN_CHECKS, HISTORY_VERIFIED, HISTORY_VERIFIED_TIME,
    STATEMENT_INFO,
    CLOCK_STEPS, CLOCK_OFFSET, STORE_FILE_OK, TLS_LEAF_EXPIRY, TLS_CHAIN_EXPIRY,
    DEGRADED_SECONDS, LATENCY_SLI, LATENCY_OBJECTIVE,
    INCIDENTS_OPEN, INCIDENT_DEADLINE, INCIDENT_BUSINESS_LEFT, INCIDENTS, BUILD_INFO,
    LEADER, LOCATION_LAST_CHECK, LOCATION_SILENCE,
)


def served_names() -> frozenset[str]:
    """The names queries may select: counters with `_total`, histograms by base name."""
    return frozenset(m.sample for m in ALL)
