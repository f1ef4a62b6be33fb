// CSV and manifest writing for runs (layouts in run_files.h). Numbers are
// printed with 8 significant digits, so identical runs give identical bytes.
#include "results/run_files.h"

#include <cmath>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "core/temp_name.h"


namespace normlab {

namespace {
std::string num(double v) { return fmt::format("{:.8g}", v); }
std::string opt_num(double v, bool present) { return present ? num(v) : ""; }

// The median of one landscape measure over the evaluation points after step 0
// ("" when there is none: landscape off, or the run diverged first). +inf sorts last.
std::string landscape_median(const RunResult& r, double LandscapePoint::*m) {
  std::vector<double> v;
  for (const auto& p : r.landscape)
    if (p.step > 0) v.push_back(p.*m);
  if (v.empty()) return "";
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return num(v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]));
}
}  // namespace

const std::vector<std::string>& time_columns() {
  static const std::vector<std::string> cols = {"seconds_to_target", "train_seconds",
                                                "samples_per_s", "peak_rss_mb", "elapsed_s"};
  return cols;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string config_header() {
  std::string h = "run_id";
  for (const auto& k : run_keys())
    if (k.identity) h += std::string(",") + k.name;
  return h;
}

std::string config_fields(const RunConfig& cfg) {
  std::string s = cfg.run_id();
  for (const auto& k : run_keys())
    if (k.identity) {
      s += ',';
      s += csv_field(cfg.get(k.name));
    }
  return s;
}

std::string runs_header() {
  std::string h = config_header();
  h += ",status,failure,final_test_acc,best_test_acc,final_train_loss,final_test_loss,"
       "final_train_acc,final_val_acc,best_val_acc,final_val_loss,pred_flip_rate,"
       "landscape_loss_range,landscape_grad_change,landscape_beta,hidden_wnorm,steps_to_target,seconds_to_target,diverge_step,loss_auc,steps_done,"
       "train_seconds,samples_per_s,peak_rss_mb,message\n";
  return h;
}

std::string runs_row(const RunConfig& cfg, const RunResult& r) {
  std::string s = config_fields(cfg);
  const bool reached = r.steps_to_target >= 0;
  const double wnorm = r.curve.empty() ? std::nan("") : r.curve.back().hidden_wnorm;  // at the last evaluation
  s += fmt::format(",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.status, r.failure,
                   num(r.final_test_acc), num(r.best_test_acc), num(r.final_train_loss),
                   num(r.final_test_loss), num(r.final_train_acc), opt_num(r.final_val_acc, r.has_val),
                   opt_num(r.best_val_acc, r.has_val), opt_num(r.final_val_loss, r.has_val),
                   opt_num(r.pred_flip_rate, r.has_flip), landscape_median(r, &LandscapePoint::loss_range),
                   landscape_median(r, &LandscapePoint::grad_change), landscape_median(r, &LandscapePoint::beta),
                   opt_num(wnorm, !std::isnan(wnorm)), reached ? std::to_string(r.steps_to_target) : "",
                   opt_num(r.seconds_to_target, reached),
                   r.diverge_step >= 0 ? std::to_string(r.diverge_step) : "", num(r.loss_auc),
                   r.steps_done, num(r.train_seconds), num(r.samples_per_s), num(r.peak_rss_mb),
                   csv_field(r.message));
  return s;
}

std::string curves_header() {
  return "run_id,step,epoch,samples,split,loss,accuracy,grad_norm,lr,elapsed_s,hidden_wnorm\n";
}

std::string curves_rows(const std::string& run_id, const RunResult& r) {
  std::string s;
  for (const auto& p : r.curve)
    s += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", run_id, p.step, num(p.epoch), p.samples,
                     p.split, num(p.loss), num(p.accuracy), num(p.grad_norm), num(p.lr),
                     num(p.elapsed_s), opt_num(p.hidden_wnorm, !std::isnan(p.hidden_wnorm)));
  return s;
}

std::string activations_header() {
  return "run_id,step,layer,kind,mean,std,p15,p50,p85,unit_p15,unit_p50,unit_p85,eval_p15,eval_p50,eval_p85,"
         "bn_running_mean,bn_running_var,weight_norm\n";
}

std::string activations_rows(const std::string& run_id, const RunResult& r) {
  std::string s;
  for (const auto& a : r.activations)
    s += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", run_id, a.step, a.layer, a.kind,
                     num(a.mean), num(a.std), num(a.p15), num(a.p50), num(a.p85), num(a.unit_p15),
                     num(a.unit_p50), num(a.unit_p85), num(a.eval_p15), num(a.eval_p50), num(a.eval_p85),
                     opt_num(a.bn_running_mean, a.has_bn), opt_num(a.bn_running_var, a.has_bn),
                     opt_num(a.weight_norm, !std::isnan(a.weight_norm)));
  return s;
}

std::string batchstats_header() { return "run_id,step,layer,batch,draws,mean_err,var_err\n"; }

std::string batchstats_rows(const std::string& run_id, const RunResult& r) {
  std::string s;
  for (const auto& b : r.batch_stats)
    s += fmt::format("{},{},{},{},{},{},{}\n", run_id, b.step, b.layer, b.batch, b.draws, num(b.mean_err),
                     num(b.var_err));
  return s;
}

// The temporary name is unique to this call on every host (core/temp_name.h), so
// several processes or threads writing the same PATH (shards assembling one
// sweep directory, on one host or several) never write or rename each other's
// temporary file; the last rename wins and every reader sees one whole version.
void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = temp_path_for(path);
  // POSIX calls, not a stream: errno then says why (disk full, file too large).
  auto fail = [&](const char* what) {
    const int err = errno;
    std::error_code ec;  // leave no temporary file behind; path is as it was
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(fmt::format("cannot write {}: {} ({} {})", path, std::strerror(err), what, tmp));
  };
  // A fresh name: O_EXCL and O_NOFOLLOW, so nothing already there (a planted link) is opened.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail("creating");
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      const int err = errno;
      ::close(fd);
      errno = err;
      fail("writing");
    }
    done += std::size_t(n);
  }
  if (::close(fd) != 0) fail("closing");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("renaming");
}

bool write_file_if_changed(const std::string& path, const std::string& text) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == text.size() && !ec) {
    std::ifstream in(path, std::ios::binary);  // bounded: text.size() bytes, after the size check
    std::string old(text.size(), '\0');
    if (in.read(old.data(), std::streamsize(old.size())) && old == text) return false;
  }
  write_file_atomic(path, text);
  return true;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace normlab
