// The registered rule (format in registration.h). The canonical text is one
// `key=value` line per field in a fixed order; numbers are written with 17
// significant digits, lists joined by '|'. A field added later must enter the
// text only when it differs from its default, so that older hashes stay valid.
#include "claims/registration.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <deque>
#include <set>

#include "core/errors.h"
#include "core/sha256.h"
#include "results/run_files.h"

namespace normlab {

namespace {
std::string num(double v) { return fmt::format("{:.17g}", v); }
const char* relative_name(Relative r) { return r == Relative::ratio ? "ratio" : r == Relative::log ? "log" : "none"; }
}  // namespace

std::string rule_canonical_text(const ClaimRule& r, const std::map<std::string, std::string>& grids) {
  std::string s = "normlab claim rule 1\n";
  const auto line = [&](const char* k, const std::string& v) { s += fmt::format("{}={}\n", k, v); };
  line("id", r.id);
  line("measure", r.measure);
  line("file", r.file);
  line("relative", relative_name(r.relative));
  line("metric", metric_name(r.metric));
  line("column", r.columns.empty() ? r.column : fmt::format("{}", fmt::join(r.columns, "|")));
  line("over", r.over);
  line("select", r.select == Select::best_lr ? "best-lr" : "mean");
  line("select-on", split_name(r.select_on));
  for (const auto& [k, vals] : r.where) s += fmt::format("where.{}={}\n", k, fmt::join(vals, "|"));
  line("by", r.by);
  line("each", fmt::format("{}", fmt::join(r.each, "|")));
  if (!r.contrast.empty()) line("contrast", fmt::format("{}={}|{}", r.contrast, r.contrast_values[0], r.contrast_values[1]));
  if (r.contrast_log) line("contrast-relative", "log");  // absent before the key: hashes kept
  line("treatment", fmt::format("{}", fmt::join(r.treatment, "|")));
  line("control", r.control);
  line("direction", direction_name(r.direction));
  line("margin", num(r.margin));
  line("floor", num(r.floor));
  line("within", num(r.within));
  line("fraction", num(r.fraction));
  line("tolerance", num(r.tolerance));
  line("equivalence", r.equivalence ? "true" : "false");
  if (r.edge_seeds != 1) line("edge-seeds", std::to_string(r.edge_seeds));  // absent before the key: hashes kept
  for (const auto& cell : r.positive_control) {
    std::vector<std::string> kv;
    for (const auto& [k, v] : cell) kv.push_back(k + ":" + v);
    line("positive-control", fmt::format("{}", fmt::join(kv, "|")));
  }
  for (const auto& ec : r.effect_controls) line("positive-control-effect", ec.arm + ":" + num(ec.margin));
  for (const auto& [profile, hash] : grids) s += fmt::format("grid.{}={}\n", profile, hash);
  return s;
}

std::string rule_hash(const ClaimRule& rule, const std::map<std::string, std::string>& grids) {
  return sha256_hex(rule_canonical_text(rule, grids)).substr(0, 16);
}

// Breadth first over the amendments as edges from_hash -> to_hash: the shortest chain.
std::vector<Amendment> amendment_chain(const std::vector<Amendment>& amendments, const std::string& from,
                                       const std::string& to, bool& found) {
  std::map<std::string, int> via;  // hash -> the amendment that reached it (-1: the start)
  std::deque<std::string> queue = {from};
  via[from] = -1;
  while (!queue.empty() && !via.count(to)) {
    const std::string h = queue.front();
    queue.pop_front();
    for (std::size_t i = 0; i < amendments.size(); ++i)
      if (amendments[i].from_hash == h && !via.count(amendments[i].to_hash)) {
        via[amendments[i].to_hash] = int(i);
        queue.push_back(amendments[i].to_hash);
      }
  }
  found = via.count(to) > 0;
  std::vector<Amendment> chain;
  for (std::string h = to; found && via.at(h) >= 0; h = amendments[std::size_t(via.at(h))].from_hash)
    chain.insert(chain.begin(), amendments[std::size_t(via.at(h))]);
  return chain;
}

Registration read_registration(const nlohmann::json& m, const std::string& path) {
  Registration r;
  if (!m.is_object() || !m.contains("rule_registration")) return r;
  const auto& j = m["rule_registration"];
  if (!j.is_object() || !j.value("hash", nlohmann::json()).is_string() ||
      !j.value("registered", nlohmann::json()).is_string() || !j.value("legacy", nlohmann::json()).is_boolean())
    throw ConfigError(fmt::format("{}: rule_registration: expected {{\"hash\": string, \"registered\": string, "
                                  "\"legacy\": bool}}, got {}", path, j.dump()));
  r.hash = j["hash"].get<std::string>();
  r.registered = j["registered"].get<std::string>();
  r.legacy = j["legacy"].get<bool>();
  return r;
}

nlohmann::json registration_json(const Registration& r) {
  return {{"hash", r.hash}, {"registered", r.registered}, {"legacy", r.legacy}};
}

RuleStatus check_registration(const std::string& claim_file, const ClaimRule& rule, const std::string& manifest_path,
                              const Registration& reg, const std::string& current, bool accept_unregistered) {
  RuleStatus st{current, reg, {}};
  if (reg.hash.empty()) {
    if (!accept_unregistered)
      throw ConfigError(fmt::format(
          "{}: records no rule hash: these results of claim {} are from before rules were registered, so "
          "nothing shows which rule they were run under. Run again with --accept-unregistered to register the "
          "current rule of {} (hash {}) for them now; claims.md then marks the claim as registered after its "
          "results", manifest_path, rule.id, claim_file, current));
    st.registered = {current, utc_now(), true};
    return st;
  }
  bool found = false;
  st.applied = amendment_chain(rule.amendments, reg.hash, current, found);
  if (!found)
    throw ConfigError(fmt::format(
        "{}: the rule and settings of claim {} hash to {}, but {} registered rule hash {} before its runs: the "
        "claim file changed after these results. To evaluate them under the changed rule, record the change in "
        "{}:\n  [[amendment]]\n  date = \"YYYY-MM-DD\"\n  what = \"what changed\"\n  why = \"why\"\n  replaced = "
        "\"the verdict it replaced\"\n  from_hash = \"{}\"\n  to_hash = \"{}\"\nor write the results to a new --out",
        claim_file, rule.id, current, manifest_path, reg.hash, claim_file, reg.hash, current));
  return st;
}

}  // namespace normlab
