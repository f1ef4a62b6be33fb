#pragma once
// A results folder is a store with a kind and an identity, recorded in its
// manifest.json beside what was run:
//   "kind": "train" | "sweep" | "merge" | "claim" | "claims",
//   "identity": { "experiment": NAME, "fixed_hash": HEX16 }   sweep, merge, claim
//               { "run_id": ID }                              train
//               { "profile": quick | full }                   claims (claims.csv, one folder per claim)
// fixed_hash is the SHA-256 of "key=value\n" over the identity keys that have
// one value in the whole grid, less any key added later (KeySpec::fixed_at_default)
// that is at its default. Sweep, merge and claim folders share one layout
// (parts/, ledger/, the four CSVs), so one may write into another's folder when
// the identity agrees: the same experiment name, and no key fixed in both
// grids changed (sweep/grid_change.h; a grid grown by seeds or values is the
// same store). Older manifests without these fields are read by their
// "command" ("merged_from" makes it a merge) and their runs.
//
// Every writer (train, sweep, merge, claims, --save-weights, --log-file,
// --fresh) calls guard_store / guard_store_file before it changes anything.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/run_config.h"

namespace normlab {

enum class StoreKind { train, sweep, merge, claim, claims };
const char* to_string(StoreKind k);

struct StoreIdentity {
  StoreKind kind = StoreKind::sweep;
  std::string name;             // sweep, merge, claim: the experiment name
  std::vector<RunConfig> runs;  // sweep, merge, claim: the grid
  std::string run_id;           // train
  std::string profile;          // claims

  static StoreIdentity grid(StoreKind kind, std::string name, std::vector<RunConfig> runs = {});
  static StoreIdentity train_run(std::string run_id);
  static StoreIdentity claims_of(std::string profile);
};

// The path in one spelling: "D/", "D/." and "x/../D" are "D". Symbolic links
// are compared resolved by the guards.
std::string store_path(const std::string& path);

// Hash of the grid's fixed identity keys (see above).
std::string fixed_hash(const std::vector<RunConfig>& runs);

// {"kind": ..., "identity": {...}}, to be merged into the store's manifest.json.
nlohmann::json store_fields(const StoreIdentity& id);

// The result tables a store holds, by their SHA-256: {"runs.csv": HEX64, ...}
// over those of runs.csv, curves.csv, activations.csv, batchstats.csv and
// timings.csv that exist in DIR. The writer of a finished manifest records it
// as "files", so a table changed after it was written (an edited value, a cut
// or appended row) is found without its parts/ (which git does not keep).
nlohmann::json result_checksums(const std::string& dir);

// The tables of DIR checked against the manifest's "files": one problem per
// table whose bytes differ, that is listed but missing, or that exists but is
// not listed. A manifest without "files" (an older normlab's, a run still under
// way, a shard's part of a grid) is one problem when required, else none.
std::vector<std::string> check_result_checksums(const std::string& dir, const nlohmann::json& manifest,
                                                bool required);
// The same over a claims folder's own tables, claims.csv and claims.md.
nlohmann::json summary_checksums(const std::string& dir);
std::vector<std::string> check_summary_checksums(const std::string& dir, const nlohmann::json& manifest,
                                                 bool required);

// The one guard of a folder about to be written by `me`. Throws ConfigError
//   "OPTION: DIR already holds WHAT; ... Choose another OPTION, or pass --force"
// when DIR holds results of another kind or identity, results of unknown
// origin (a runs.csv or claims.csv without a manifest.json of their kind, an
// unreadable manifest.json). Nothing when DIR is missing, empty of results, or
// the same store (a resume, a grown grid). With force, nothing. offers_force:
// whether the message may suggest --force (a command without one: false).
void guard_store(const std::string& option, const std::string& dir, const StoreIdentity& me, bool force,
                 bool offers_force = true);

// FILE is about to be written by OPTION (--save-weights, --log-file): refuses
// (ConfigError naming OPTION and FILE) one of a store's own files (its CSVs,
// manifest.json, claims.csv/md, or anything under parts/ or ledger/) in OUT
// (the folder this command writes; "" when none) or in any folder that holds
// a store.
void guard_store_file(const std::string& option, const std::string& file, const std::string& out);

// A name that becomes a folder under an output directory (an experiment name,
// a claim id): letters, digits, '-', '_', '+' and '.', not starting with '.'.
// Throws ConfigError "WHERE: KEY: 'NAME' (allowed: ...)".
void check_store_name(const std::string& where, const std::string& key, const std::string& name);

}  // namespace normlab
