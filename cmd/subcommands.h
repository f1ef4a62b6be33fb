#pragma once
// Each subcommand lives in its own file: an options struct, a setup function
// that registers it with CLI11, and a run function. Setup functions are
// declared here so main.cpp can register them all.
#include <CLI/CLI.hpp>

namespace normlab::cmd {

void setup_train(CLI::App& app);
void setup_data(CLI::App& app);
void setup_sweep(CLI::App& app);
void setup_merge(CLI::App& app);
void setup_bench(CLI::App& app);
void setup_claims(CLI::App& app);
void setup_slurm(CLI::App& app);
void setup_status(CLI::App& app);
void setup_verify(CLI::App& app);
void setup_history(CLI::App& app);

// Every invariant `normlab verify DIR` checks, one message per violation
// (empty: clean). Throws ConfigError "WHO: DIR is not ..." when DIR is not a
// results folder.
std::vector<std::string> results_folder_violations(const std::string& who, const std::string& dir);

void setup_keys(CLI::App& app);

// For --out options whose empty default means "choose one": an explicit
// `--out ''` is a mistake (exit 2), not a request for the default.
inline const CLI::Validator kNotEmpty(
    [](std::string& v) { return v.empty() ? std::string("empty path (give a directory name)") : std::string(); },
    "", "not empty");

// An input path that exists, with the OS's reason when it cannot be reached
// ("Too many levels of symbolic links", "Permission denied"), not CLI11's
// "File does not exist" for every failure. kExistingFile: not a directory;
// kExistingDir: a directory.
std::string input_path_problem(const std::string& path, bool want_dir);
inline const CLI::Validator kExistingFile([](std::string& v) { return input_path_problem(v, false); }, "FILE",
                                          "existing file");
inline const CLI::Validator kExistingDir([](std::string& v) { return input_path_problem(v, true); }, "DIR",
                                         "existing directory");

}  // namespace normlab::cmd
