// The registered rule (claims/registration.h): what the hash covers and what it
// ignores, [[amendment]] entries read with typed keys, and amendment chains.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "claims/registration.h"
#include "core/errors.h"

using namespace normlab;

namespace {
const char* kRule =
    "[claim]\nid = \"x\"\nstatement = \"s\"\n[rule]\nmetric = \"value\"\ntext = \"t\"\ncontrol = \"none\"\n"
    "treatment = \"batch\"\ndirection = \"greater\"\nmargin = 0.01\n";
const char* kAmendment =
    "[[amendment]]\ndate = 2026-12-01\nwhat = \"margin 0 -> 0.01\"\nwhy = \"w\"\nreplaced = \"inconclusive\"\n"
    "from_hash = \"0123456789abcdef\"\nto_hash = \"fedcba9876543210\"\n";

ClaimRule read_text(const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("normlab-claim-reg-" + std::to_string(::getpid()) + ".toml")).string();
  std::ofstream(path) << text;
  struct Remove {
    std::string p;
    ~Remove() { std::filesystem::remove(p); }
  } remove{path};
  return read_claim_rule(path);
}

std::string read_error(const std::string& text) {
  try {
    read_text(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string hash_of(const std::string& text, const std::string& grid = "g0") {
  return rule_hash(read_text(text), {{"full", grid}, {"quick", "q0"}});
}

Amendment step(std::string from, std::string to) { return {"2026-12-01", "w", "y", "v", from, to}; }
}  // namespace

TEST_CASE("claims registration: the hash covers what decides verdicts, not comments, layout or prose") {
  const std::string base = hash_of(kRule);
  CHECK(base.size() == 16);
  // Comments, whitespace, the rule's text, the statement and amendments do not decide a verdict.
  CHECK(hash_of(std::string("# a comment\n") + kRule + "   # trailing\n") == base);
  std::string prose = kRule;
  prose.replace(prose.find("text = \"t\""), 10, "text = \"another wording\"");
  CHECK(hash_of(prose) == base);
  CHECK(hash_of(std::string(kRule) + kAmendment) == base);
  CHECK(hash_of(std::string(kRule) + "equivalence = false\n") == base);  // the default, written out
  // The margin, the rule's other fields and each profile's grid do.
  std::string margin = kRule;
  margin.replace(margin.find("margin = 0.01"), 13, "margin = 0.02");
  CHECK(hash_of(margin) != base);
  CHECK(hash_of(std::string(kRule) + "each = [\"model\"]\n") != base);
  CHECK(hash_of(std::string(kRule) + "floor = 0.5\n") != base);
  CHECK(hash_of(kRule, "g1") != base);
}

TEST_CASE("claims registration: [[amendment]] entries, every key typed") {
  const ClaimRule r = read_text(std::string(kRule) + kAmendment);
  REQUIRE(r.amendments.size() == 1);
  CHECK(r.amendments[0].date == "2026-12-01");
  CHECK(r.amendments[0].replaced == "inconclusive");
  CHECK(r.amendments[0].to_hash == "fedcba9876543210");
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string a = kAmendment;
    a.replace(a.find(from), from.size(), to);
    return read_error(std::string(kRule) + a);
  };
  CHECK(with("why = \"w\"\n", "why = \"w\"\nreason = \"r\"\n").find("[[amendment]] has no key 'reason'") != std::string::npos);
  CHECK(with("why = \"w\"\n", "").find("[[amendment]] needs `why`") != std::string::npos);
  CHECK(with("what = \"margin 0 -> 0.01\"", "what = 3").find("amendment.what: 3 (expected a non-empty string)") !=
        std::string::npos);
  CHECK(with("date = 2026-12-01", "date = \"1 December\"").find("amendment.date") != std::string::npos);
  CHECK(with("from_hash = \"0123456789abcdef\"", "from_hash = \"0123\"").find("amendment.from_hash: '0123'") !=
        std::string::npos);
  CHECK(read_error(std::string(kRule) + "[amendment]\ndate = 2026-12-01\n").find("[[amendment]] table") !=
        std::string::npos);
  // The file is named in every message.
  CHECK(with("why = \"w\"\n", "").find("normlab-claim-reg-") != std::string::npos);
}

TEST_CASE("claims registration: amendments chain from the registered hash to the current one") {
  const std::vector<Amendment> a = {step("aaaa", "bbbb"), step("cccc", "dddd"), step("bbbb", "cccc")};
  bool found = false;
  CHECK(amendment_chain(a, "aaaa", "aaaa", found).empty());
  CHECK(found);
  const auto chain = amendment_chain(a, "aaaa", "dddd", found);
  CHECK(found);
  REQUIRE(chain.size() == 3);
  CHECK(chain[0].to_hash == "bbbb");
  CHECK(chain[2].to_hash == "dddd");
  amendment_chain(a, "dddd", "aaaa", found);  // an amendment runs one way
  CHECK_FALSE(found);
  amendment_chain(a, "eeee", "bbbb", found);
  CHECK_FALSE(found);
}

TEST_CASE("claims registration: a folder's registration checked against the claim's hash") {
  const ClaimRule r = read_text(std::string(kRule) + kAmendment);
  const Registration reg{"0123456789abcdef", "2026-12-01T00:00:00Z", false};
  const RuleStatus ok = check_registration("c.toml", r, "d/manifest.json", reg, "fedcba9876543210", false);
  CHECK(ok.applied.size() == 1);
  try {
    check_registration("c.toml", r, "d/manifest.json", reg, "1111111111111111", false);
    FAIL("a changed rule without an amendment was accepted");
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    for (const char* want : {"c.toml", "d/manifest.json", "0123456789abcdef", "1111111111111111", "[[amendment]]"})
      CHECK(m.find(want) != std::string::npos);
  }
  CHECK_THROWS_AS(check_registration("c.toml", r, "d/manifest.json", Registration{}, "1111111111111111", false),
                  ConfigError);
  const RuleStatus legacy = check_registration("c.toml", r, "d/manifest.json", Registration{}, "1111111111111111", true);
  CHECK(legacy.registered.legacy);
  CHECK(legacy.registered.hash == "1111111111111111");
  // Written and read back.
  nlohmann::json m = {{"rule_registration", registration_json(reg)}};
  CHECK(read_registration(m, "m.json").hash == reg.hash);
  m["rule_registration"]["legacy"] = "no";
  CHECK_THROWS_AS(read_registration(m, "m.json"), ConfigError);
}
