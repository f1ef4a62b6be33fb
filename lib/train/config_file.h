#pragma once
// `normlab train --config FILE.toml`: a TOML table of run keys, e.g.
//   dataset = "mnist"
//   norm = "batch"
//   lr = 0.1
//   widths = [128, 64]
// Keys are those of train's options (dashes or underscores). A list is only
// allowed for list-valued keys (widths); lists of alternatives belong in a sweep.
#include <map>
#include <string>
#include <vector>
#include <toml++/toml.h>

#include "train/run_config.h"

namespace normlab {

// The one TOML reader for run files, experiments and claims. Throws ConfigError
// "PATH: cannot open" or "PATH:LINE:COL: what is wrong". With text, also
// returns the file as read.
toml::table read_toml_file(const std::string& path, std::string* text = nullptr);

// The reading half of read_toml_file: the whole file. Throws ConfigError "PATH: cannot open".
std::string read_text_file(const std::string& path);

// The parsing half of read_toml_file: text as the file at path would hold it
// (path only names it in messages). Throws ConfigError "PATH:LINE:COL: ...".
toml::table parse_toml_text(const std::string& text, const std::string& path);

// A node's place in its file, "PATH:LINE:COL", for messages.
std::string toml_where(const std::string& path, const toml::node& n);

// TOML value as the text RunConfig::set takes ("0.1", "true", "128,64").
// Throws ConfigError naming `where` when the value is a table or a nested list.
std::string toml_value_text(const toml::node& n, const std::string& where);

// A TOML value of key k as the text check_value takes, refusing a TOML type
// that is not the key's: a boolean key takes true/false, an integer key an
// integer, a number key an integer or float, an integer list an integer or a
// list of integers, a choice a string, other text a string or a number. Throws
// ConfigError "WHERE: KEY: 'VALUE' is a string; expected ... (allowed: ...)"; never
// replaces a value by a default.
std::string toml_key_text(const KeySpec& k, const toml::node& n, const std::string& where);

// One problem per key of t given under two spellings ("batch-size" and
// "batch_size" are one key): "PATH:LINE:COL: batch_size: the same key as
// batch-size at PATH:LINE:COL; give it once". Not recursive.
std::vector<std::string> duplicate_spellings(const toml::table& t, const std::string& path);

// Applies every key of the file to cfg. Throws one ConfigError listing every
// problem as FILE:LINE:COL: key: message. Returns the keys it set, canonical key
// -> FILE:LINE:COL.
std::map<std::string, std::string> apply_config_file(RunConfig& cfg, const std::string& path);

// A given key is never ignored: one problem per key of `given` (canonical key ->
// where it was given) that has no effect on the run cfg describes,
// "WHERE: KEY: given, but it applies only when norm = group, and this run has
// norm = batch (allowed: remove it, or change norm)".
std::vector<std::string> ignored_keys(const RunConfig& cfg, const std::map<std::string, std::string>& given);

}  // namespace normlab
