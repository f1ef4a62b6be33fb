// normlab train: one run, metrics to --out DIR (runs.csv, curves.csv,
// activations.csv, manifest.json). Every run key is an option (--lr 0.1) and
// a key of --config FILE.toml; the command line wins over the file.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include "cmd/progress.h"
#include "cmd/subcommands.h"
#include "data/dataset.h"
#include "core/errors.h"
#include "core/out_path.h"
#include "train/config_file.h"
#include "core/sha256.h"
#include "results/manifest.h"
#include "results/run_files.h"
#include "cmd/test_faults.h"
#include "sweep/store.h"
#include "train/run_setup.h"

namespace normlab::cmd {

namespace {

struct TrainOptions {
  std::map<std::string, std::string> keys;  // run keys given on the command line
  std::string config;
  std::string out = "results/train";
  bool force = false;
  std::string save_weights, load_weights;
  bool quiet = false, verbose = false;
  std::string log_file;
};

void setup_logging(const TrainOptions& o) {
  if (o.quiet) spdlog::set_level(spdlog::level::warn);
  if (o.verbose) spdlog::set_level(spdlog::level::debug);
  if (!o.log_file.empty()) {
    check_out_file("--log-file", o.log_file, true);
    try {
      auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(o.log_file);
      spdlog::default_logger()->sinks().push_back(sink);
    } catch (const spdlog::spdlog_ex& e) {
      throw ConfigError(fmt::format("--log-file: cannot write to {}: {}", o.log_file, e.what()));
    }
  }
}

void run_train(TrainOptions o) {
  check_out_spelling("--out", o.out);
  o.out = store_path(o.out);
  // Neither file may be one of a results folder's own (this --out's or another's).
  if (!o.log_file.empty()) guard_store_file("--log-file", o.log_file, o.out);
  if (!o.save_weights.empty()) guard_store_file("--save-weights", o.save_weights, o.out);
  setup_logging(o);
  RunConfig cfg;
  std::map<std::string, std::string> given_at;  // canonical key -> where: the file's place, or the option
  if (!o.config.empty()) given_at = apply_config_file(cfg, o.config);
  for (const auto& [k, v] : o.keys) {
    cfg.set(k, v, "--" + k);
    given_at[canonical_key(k)] = "--" + k;
  }
  const TrainSpec spec = resolve(cfg);
  const std::string run_id = cfg.run_id();
  const StoreIdentity me = StoreIdentity::train_run(run_id);
  guard_store("--out", o.out, me, o.force);

  TrainHooks hooks;
  hooks.load_weights = o.load_weights;
  hooks.save_weights = o.save_weights;
  hooks.faults = test_faults();
  ProgressView::log_seconds();  // a bad NORMLAB_PROGRESS_SECONDS exits 2 before the run
  const RunSetup setup = setup_run(spec, hooks.faults);
  const auto& data = setup.data;
  auto model = build_run_model(setup, hooks);
  // A given key is never ignored: one this run would not use is refused, like a bad value
  // (after the checks above, whose messages are more specific: "dropout: rnn has no ...").
  if (const auto ignored = ignored_keys(cfg, given_at); !ignored.empty())
    throw ConfigError(fmt::format("{}", fmt::join(ignored, "\n")));
  // All bad input is found by here.
  // Where the results go must take files before training, not after.
  // (--save-weights inside --out: --out is created first.)
  namespace fs = std::filesystem;
  const bool weights_in_out = !o.save_weights.empty() &&
      fs::path(o.save_weights).parent_path().lexically_normal() == fs::path(o.out).lexically_normal();
  if (!o.save_weights.empty() && !weights_in_out) check_out_file("--save-weights", o.save_weights, false);
  prepare_out_dir("--out", o.out);
  if (weights_in_out) check_out_file("--save-weights", o.save_weights, false);

  spdlog::info("run {}: {} on {} ({} train / {} test, {}), {} parameters", run_id,
               cfg.get("model"), data->name, data->train.count(), data->test.count(),
               data->source, model->params().size());
  // Live progress (cmd/progress.h): a step bar on a terminal, else a line every 30 s.
  const bool bar = isatty(STDERR_FILENO) && std::getenv("CI") == nullptr && !o.quiet;
  SweepLive live(1);
  live.slots[0].run.store(0);
  live.total.store(1);
  hooks.live = &live.slots[0].progress;
  const std::string started = utc_now();
  RunResult r;
  {
    ProgressView view(bar ? ProgressView::Mode::bar : ProgressView::Mode::lines, live, {"run " + run_id});
    SweepProgress one;
    one.total = one.running = 1;
    view.update(one);
    hooks.on_eval = [&view](const EvalPoint& p, long total, double sps) {
      view.above([&] {
        spdlog::info("step {:>6}/{} epoch {:5.2f}  test loss {:.4f} acc {:.4f}  {:.0f} samples/s", p.step, total,
                     p.epoch, p.loss, p.accuracy, sps);
      });
    };
    r = train_run(setup.spec, *data, *model, hooks);
  }
  if (r.status == "diverged") spdlog::warn("run diverged: {}", r.message);

  write_file_atomic(o.out + "/curves.csv", curves_header() + curves_rows(run_id, r));
  write_file_atomic(o.out + "/activations.csv",
                    activations_header() + activations_rows(run_id, r));
  if (!spec.stat_batches.empty())
    write_file_atomic(o.out + "/batchstats.csv", batchstats_header() + batchstats_rows(run_id, r));
  nlohmann::json given = nlohmann::json::object();
  for (const auto& [k, v] : o.keys) given[k] = v;
  nlohmann::json what = {{"config_file", o.config}, {"config_given", given},
                         {"config_resolved", cfg.values()}, {"run_id", run_id}};
  what.update(store_fields(me));
  const std::string runs_text = runs_header() + runs_row(cfg, r);
  what["files"] = result_checksums(o.out);  // the tables written above, and runs.csv as it is written below
  what["files"]["runs.csv"] = sha256_hex(runs_text);
  const auto manifest = make_manifest("train", what, {data.get()}, started, utc_now());
  write_file_atomic(o.out + "/manifest.json", manifest.dump(2) + "\n");
  write_file_atomic(o.out + "/runs.csv", runs_text);  // last: marks completion
  spdlog::info("{}: final test acc {:.4f}, best {:.4f}, {:.0f} samples/s; wrote {}/", r.status,
               r.final_test_acc, r.best_test_acc, r.samples_per_s, o.out);
}

const char* type_name(KeyType t) {
  switch (t) {
    case KeyType::number: return "NUM";
    case KeyType::integer: return "INT";
    case KeyType::boolean: return "[BOOL]";
    case KeyType::integer_list: return "INT,...";
    case KeyType::choice:
    case KeyType::text: return "TEXT";
  }
  return "TEXT";
}

}  // namespace

void setup_train(CLI::App& app) {
  auto opt = std::make_shared<TrainOptions>();
  auto* sub = app.add_subcommand("train", "Train one network and write its metrics as CSV");
  // Every run key is an option, checked by the key's spec (train/key_schema.h)
  // when RunConfig::set applies it. A boolean key is a flag: --nesterov alone
  // means true; --nesterov false (or =false) also works. A key given twice is
  // refused, not resolved: whichever value won, the other would be ignored.
  for (const auto& k : run_keys()) {
    const std::string name = k.name;
    const bool flag = k.type == KeyType::boolean;
    auto* o = sub->add_option_function<std::vector<std::string>>(
           "--" + name,
           [opt, name, flag](const std::vector<std::string>& vs) {
             if (vs.size() > 1) {
               std::vector<std::string> shown;
               for (const auto& v : vs) shown.push_back(flag && v.empty() ? "(flag)" : v);
               throw ConfigError(fmt::format("--{}: given {} times ({}); a key takes one value (allowed: give it "
                                             "once)", name, vs.size(), fmt::join(shown, ", ")));
             }
             const std::string v = vs.empty() ? "" : vs.front();
             opt->keys[name] = flag && v.empty() ? "true" : v;
           },
           std::string(k.help) + " [default: " + (k.def[0] ? k.def : "\"\"") + "]")
        ->type_name(type_name(k.type))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    o->expected(flag ? 0 : 1, 1);
  }
  sub->add_option("--config", opt->config, "TOML file of run keys (command-line options win)")
      ->check(kExistingFile);
  sub->add_option("--out", opt->out, "output directory")->capture_default_str();
  sub->add_flag("--force", opt->force, "overwrite another run's results in --out");
  sub->add_option("--save-weights", opt->save_weights, "write final weights (safetensors)");
  sub->add_option("--load-weights", opt->load_weights, "start from these weights (safetensors)")
      ->check(kExistingFile);
  sub->add_flag("-q,--quiet", opt->quiet, "warnings and errors only");
  sub->add_flag("-v,--verbose", opt->verbose, "debug logging");
  sub->add_option("--log-file", opt->log_file, "also log to this file");
  sub->callback([opt] { run_train(*opt); });
}

}  // namespace normlab::cmd
