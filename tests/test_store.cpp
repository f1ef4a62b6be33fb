// The results store's pieces (sweep/store.h, results/csv_check.h,
// results/run_files.h csv_field): what the writer quotes its reader reads back,
// paths in one spelling, duplicated, missing and NaN rows found.
#include <doctest/doctest.h>

#include "core/sha256.h"
#include "results/csv_check.h"
#include "results/csv_table.h"
#include "results/manifest.h"
#include "results/run_files.h"
#include "sweep/store.h"
#include "train/key_schema.h"

using namespace normlab;

TEST_CASE("store: csv_field quotes CR, LF, comma and quote, and read_csv reads each back") {
  for (const std::string v : {"a\rb", "a\nb", "a\r\nb", "a,b", "a\"b", "\r", "a\rb\nc\"d,e"}) {
    CHECK(csv_field(v).front() == '"');
    const CsvTable t = parse_csv("x,y\n" + csv_field(v) + ",1\n", "t.csv");
    REQUIRE(t.rows.size() == 1);
    CHECK(t.at(0, "x") == v);
  }
  CHECK(csv_field("plain") == "plain");
}

TEST_CASE("store: a path in one spelling") {
  CHECK(store_path("D/") == "D");
  CHECK(store_path("D/.") == "D");
  CHECK(store_path("x/../D//") == "D");
  CHECK(store_path("/a/b/") == "/a/b");
  CHECK(store_path("/") == "/");
  CHECK(store_path(".") == ".");
  CHECK(store_path("./") == ".");
}

TEST_CASE("store: fixed_hash depends on the fixed keys only") {
  RunConfig a, b, c;
  a.set("lr", "0.1");
  b.set("lr", "0.2");
  c.set("lr", "0.1");
  c.set("steps", "7");
  CHECK(fixed_hash({a, b}) == fixed_hash({a, b}));
  CHECK(fixed_hash({a}) != fixed_hash({b}));        // lr is fixed in each, at another value
  CHECK(fixed_hash({a, b}) != fixed_hash({a, c}));  // steps fixed at 7 in one
}

TEST_CASE("store: a key added later leaves fixed_hash as it was, unless set") {
  // The hash as a build without the keys computed it: every identity key but "landscape",
  // "scale-hidden", "eval-count", "eval-train" and "eval-between", all added after stores recorded
  // their identity.
  RunConfig a;
  a.set("lr", "0.1");
  std::string text;
  for (const auto& k : run_keys())
    if (k.identity && std::string(k.name) != "landscape" && std::string(k.name) != "scale-hidden" &&
        std::string(k.name) != "eval-count" && std::string(k.name) != "eval-train" &&
        std::string(k.name) != "eval-between")
      text += std::string(k.name) + "=" + a.get(k.name) + "\n";
  CHECK(fixed_hash({a}) == sha256_hex(text).substr(0, 16));
  RunConfig on = a;
  on.set("landscape", "true");
  CHECK(fixed_hash({on}) != fixed_hash({a}));
  RunConfig scaled = a;
  scaled.set("scale-hidden", "10");
  CHECK(fixed_hash({scaled}) != fixed_hash({a}));
  RunConfig counted = a;
  counted.set("eval-count", "5");
  CHECK(fixed_hash({counted}) != fixed_hash({a}));
  RunConfig fewer = a;
  fewer.set("eval-train", "500");
  CHECK(fixed_hash({fewer}) != fixed_hash({a}));
  RunConfig between = a;
  between.set("eval-between", "val");
  CHECK(fixed_hash({between}) != fixed_hash({a}));
}

TEST_CASE("store: duplicated rows, missing rows and NaN metrics are found") {
  const CsvTable runs = parse_csv("run_id,model,status,failure,acc,message\nA,mlp,ok,,0.5,\nB,mlp,diverged,nan,nan,\n"
                                  "C,rnn,ok,,0.4,\n", "d/runs.csv");
  CHECK(duplicate_rows(runs).empty());
  const CsvTable dup = parse_csv("run_id,status\nA,ok\nB,ok\nA,ok\n", "d/runs.csv");
  REQUIRE(duplicate_rows(dup).size() == 1);
  CHECK(duplicate_rows(dup)[0].find("data row 3 repeats data row 1 (run_id A") != std::string::npos);
  // curves: the key is (run_id, step, split): the same step of another split is not a duplicate
  const CsvTable curves = parse_csv("run_id,step,split,loss\nA,0,train,1\nA,0,test,1\nB,0,test,inf\nC,0,test,1\n",
                                    "d/curves.csv");
  CHECK(duplicate_rows(curves).empty());
  CHECK(missing_rows(runs, curves).empty());
  const CsvTable cut = parse_csv("run_id,step,split,loss\nA,0,test,1\n", "d/curves.csv");
  CHECK(missing_rows(runs, cut).size() == 2);
  // activations: an rnn run has none
  const CsvTable acts = parse_csv("run_id,step,layer,kind,mean\nA,0,1,linear,0.1\nB,0,1,linear,0.1\n",
                                  "d/activations.csv");
  CHECK(missing_rows(runs, acts).empty());
  const CsvTable foreign = parse_csv("run_id,step,layer,kind,mean\nA,0,1,linear,0.1\nB,0,1,linear,0.1\nZ,0,1,linear,1\n",
                                     "d/activations.csv");
  REQUIRE(missing_rows(runs, foreign).size() == 1);
  CHECK(missing_rows(runs, foreign)[0].find("run Z is not in") != std::string::npos);
  // NaN: the diverged run's is a note, the failure column is text; an ok run's is a problem
  std::vector<std::string> problems, notes;
  nonfinite_metrics(runs, runs, &problems, &notes);
  CHECK(problems.empty());
  CHECK(notes.size() == 1);
  nonfinite_metrics(curves, runs, &problems, &notes);
  CHECK(problems.empty());
  CHECK(notes.size() == 2);
  const CsvTable bad = parse_csv("run_id,model,status,failure,acc,message\nA,mlp,ok,,nan,\n", "d/runs.csv");
  nonfinite_metrics(bad, bad, &problems, &notes);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("d/runs.csv: data row 1, column 'acc'") != std::string::npos);
}

TEST_CASE("a binary no commit reproduces says so in its manifests' reproducibility notes") {
  const std::string dirty = normlab::source_note("0123456789ab-dirty");
  CHECK(dirty.find("uncommitted changes") != std::string::npos);
  CHECK(dirty.find("commit 0123456789ab does not reproduce") != std::string::npos);
  CHECK(normlab::source_note("unknown").find("outside a git checkout") != std::string::npos);
  CHECK(normlab::source_note("0123456789ab").empty());
  // Only a 12-hex commit is clean: a cut, upper-case or marked stamp is not.
  for (const char* s : {"-dirty", "0123456789a", "0123456789AB", "0123456789abc", "0123456789ab-DIRTY", ""})
    CHECK_MESSAGE(!normlab::source_note(s).empty(), s);
}
