#pragma once
// The schema of every key a user can give: each run key (an option of
// `normlab train`, a key of a run file, experiment, claim file, profile,
// [[include]]/[[exclude]], [random] or `--set`) and each experiment meta key
// (lr_scale_with_batch, lr_reference_batch, random.samples ...). A key's spec
// declares its type, its range or its choices, when it has an effect (so that
// a given key is never ignored), whether an experiment may give it a list, and
// whether it is part of a run's identity. check_value() is the
// one validation every reader calls: type, range and choices are checked there
// and nowhere else, and the canonical text it returns is what run_id hashes.
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace normlab {

// Limits that keep counts meaningful and arithmetic exact: threads per run (and
// runs at once), and training steps (an epochs value is checked against it once
// the training set's size is known).
constexpr int kMaxThreads = 256;
constexpr long kMaxSteps = 1000000000000L;  // 1e12
constexpr long long kMaxInt = 2147483647;   // values the trainer keeps in an int

enum class KeyType {
  text,          // free text, optionally checked by KeySpec::check (dataset, init, bn-momentum)
  choice,        // one of KeySpec::choices
  number,        // a finite double in KeySpec::range
  integer,       // a whole integer in KeySpec::ints
  boolean,       // true | false (the command line also takes 1/0, yes/no)
  integer_list,  // comma-separated integers, each in KeySpec::ints; empty allowed
};

// What an experiment file may do with a key.
enum class Sweep {
  list,    // one value or a list of alternatives (an axis of the grid)
  single,  // one value only
  never,   // not an experiment key (seed: a sweep's seeds come from `seeds`)
};

struct NumberRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;  // exclusive bounds
};

struct IntegerRange {
  long long min = 1, max = kMaxInt;
};

// A run's keys as canonical text (RunConfig::values()), canonical key -> value.
using RunValues = std::map<std::string, std::string>;

// When a key has an effect: a test of the run's other keys, and the condition as
// messages say it ("norm = group").
struct KeyApplies {
  bool (*test)(const RunValues& run) = nullptr;
  const char* when = "";
};

struct KeySpec {
  const char* name;  // canonical spelling, dashes ("eval-every"; "eval_every" is the same key)
  KeyType type = KeyType::text;
  const char* def = "";   // default, canonical text
  const char* help = "";  // for --help and messages
  std::vector<std::string> choices = {};  // KeyType::choice
  NumberRange range = {};                 // KeyType::number
  IntegerRange ints = {};                 // KeyType::integer, each item of an integer_list
  // KeyType::text: throws ConfigError when the text is not a valid value.
  void (*check)(const std::string& value) = nullptr;
  const char* limit = nullptr;  // the limit behind range.max/ints.max, named when it is exceeded
  Sweep sweep = Sweep::list;
  bool identity = true;  // part of run_id (threads is not: results do not depend on it)
  // Can change whether the run sets up (data, model shapes, batch sizes): sweep
  // validation checks one run per distinct combination of these keys.
  bool setup = true;
  // false for keys added after results were first published: at their default
  // they stay out of run_id, so adding a key never changes an existing run's id.
  bool id_at_default = true;
  // false for keys added after stores recorded their identity (sweep/store.h's
  // fixed_hash): at their default they stay out of it, so adding a key never
  // changes the identity of a folder written before it.
  bool fixed_at_default = true;
  // When the key has an effect, from the run's other keys; an empty `when` means always.
  // A key that was given must have one: `train` refuses a given key that this run
  // ignores, and an experiment one that no run of its grid uses (key_applies below).
  KeyApplies applies = {};
};

// Every run key, in CSV column order.
const std::vector<KeySpec>& run_keys();
// The experiment file's scalar meta keys (experiment.h): name, description,
// lr-scale-with-batch, lr-reference-batch. (seeds, a count or a list, and the
// tables exclude, include, random, profile, rule, claim are read by experiment.cpp.)
const std::vector<KeySpec>& meta_keys();
// The [random] table's own keys: samples, seed.
const std::vector<KeySpec>& random_keys();

// The spec of a run key by any spelling; nullptr when there is none.
const KeySpec* find_run_key(const std::string& name);
// The spec of a meta key, or of a [random] key, by any spelling; nullptr when there is none.
const KeySpec* find_meta_key(const std::string& name);
const KeySpec* find_random_key(const std::string& name);

// "eval_every" -> "eval-every".
std::string dashed(const std::string& key);

// The one validation: raw text as typed (or as a TOML value's text) -> the
// canonical text ("0.10" -> "0.1", "+5" -> "5", "yes" -> "true"). Throws
// ConfigError "WHERE: KEY: 'VALUE' ... (allowed: ...)" (no "WHERE: " when
// where is empty).
std::string check_value(const KeySpec& k, const std::string& raw, const std::string& where);

// Whether key k has an effect on a run with these values (true when k.applies
// names no condition).
bool key_applies(const KeySpec& k, const RunValues& run);

// The keys k's condition reads, in the order it names them ("norm", "model").
std::vector<std::string> condition_keys(const KeySpec& k);

// Why a given key has no effect on a run with these values, for messages:
// "it applies only when norm = group, and this run has norm = batch".
std::string not_applied_text(const KeySpec& k, const RunValues& run);

// What the key allows, as messages say it: "1 to 2147483647", "> 0",
// "none, batch, layer", "true or false".
std::string allowed_text(const KeySpec& k);

}  // namespace normlab
