// Ground truth into labels, CSV import with bad rows, export and round trip (SQLite store).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/hash.h"
#include "labels/labels.h"
#include "store/store.h"
#include "support/testing.h"

using namespace sax;
using sax::testing::TempDir;

TEST(LabelFromTruth, OverlapRules) {
  std::vector<TimeRange> sax{{1, 3}, {9.8, 10.2}};
  EXPECT_EQ(label_from_truth(sax, 0, 5, 0.5), Label::sax);       // 2 s of sax
  EXPECT_EQ(label_from_truth(sax, 2.8, 5, 0.5), Label::unsure);  // 0.2 s
  EXPECT_EQ(label_from_truth(sax, 2.5, 5, 0.5), Label::sax);     // exactly 0.5 s
  EXPECT_EQ(label_from_truth(sax, 3, 5, 0.5), Label::not_sax);   // touches the end only
  EXPECT_EQ(label_from_truth(sax, 5, 5, 0.5), Label::unsure);    // 0.2 s at its end
  EXPECT_EQ(label_from_truth(sax, 5, 5, 0.1), Label::sax);
  EXPECT_EQ(label_from_truth({}, 0, 5, 0.5), Label::not_sax);
}

class LabelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_.root = dir_ / "home";
    home_.create();
    store_ = open_store(home_);
  }

  int64_t add_source(const std::filesystem::path& path, const std::string& hash,
                     std::vector<double> starts = {0, 5, 10}) {
    Source source;
    source.path = path.string();
    source.hash = hash;
    source.codec = "flac";
    int64_t id = store_->claim_source(source, "test").source_id;
    for (double start : starts) {
      Sample sample;
      sample.source_id = id;
      sample.start = start;
      sample.duration = 5;
      sample.path = "samples/" + std::to_string(id) + "_" + std::to_string(start) + ".flac";
      store_->add_sample(sample);
    }
    store_->finish_source(id, starts.back() + 5);
    return id;
  }

  std::map<double, Label> labels_of(int64_t source, const std::string& annotator) {
    std::map<double, Label> out;
    for (const Sample& sample : store_->samples_of(source))
      for (const Vote& vote : store_->votes_for(sample.id))
        if (vote.annotator == annotator) out[sample.start] = vote.label;
    return out;
  }

  void write_truth_file(const std::vector<std::pair<std::string, std::vector<TimeRange>>>& songs) {
    std::vector<SongTruth> truths;
    for (const auto& [file, sax] : songs) {
      SongTruth truth;
      truth.file = file;
      truth.sax = sax;
      truths.push_back(truth);
    }
    std::filesystem::create_directories(dir_ / "library");
    write_truth(dir_ / "library/truth.json", truths);
  }

  std::set<std::tuple<int64_t, std::string, Label>> all_votes() {
    std::set<std::tuple<int64_t, std::string, Label>> out;
    for (const Vote& vote : store_->votes())
      out.insert({vote.sample_id, vote.annotator, vote.label});
    return out;
  }

  TempDir dir_;
  Home home_;
  std::unique_ptr<Store> store_;
};

TEST_F(LabelsTest, TruthLabelsIngestedSamplesByPath) {
  int64_t song = add_source(dir_ / "library/song-000.flac", "h0");
  int64_t other = add_source(dir_ / "library/song-001.flac", "h1");
  write_truth_file(
      {{"song-000.flac", {{4.8, 6.0}}}, {"song-001.flac", {}}, {"song-002.flac", {{0, 1}}}});
  ImportReport report = import_truth(*store_, dir_ / "library/truth.json", {0.5, "truth", false});
  EXPECT_EQ(report.sources, 2);
  EXPECT_EQ(report.sax, 1);
  EXPECT_EQ(report.unsure, 1);
  EXPECT_EQ(report.not_sax, 4);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("song-002.flac"), std::string::npos);
  std::map<double, Label> expected{{0, Label::unsure}, {5, Label::sax}, {10, Label::not_sax}};
  EXPECT_EQ(labels_of(song, "truth"), expected);
  for (const auto& [start, label] : labels_of(other, "truth")) EXPECT_EQ(label, Label::not_sax);
  const auto times = store_->sax_times();
  ASSERT_EQ(times.size(), 2u) << "both imported songs have known sax times";
  EXPECT_EQ(times.at(song), (std::vector<TimeRange>{{4.8, 6.0}}));
  EXPECT_TRUE(times.at(other).empty());

  ImportReport again = import_truth(*store_, dir_ / "library/truth.json", {0.5, "truth", false});
  EXPECT_EQ(again.replaced, 6) << "importing twice replaces, never duplicates";
  EXPECT_EQ(store_->votes().size(), 6u);
}

TEST_F(LabelsTest, TruthFindsMovedSongsByContentOrUniqueName) {
  std::filesystem::create_directories(dir_ / "library");
  std::ofstream(dir_ / "library/song-000.flac") << "audio bytes of song zero";
  int64_t by_hash =
      add_source("/elsewhere/renamed.flac", sha256_file(dir_ / "library/song-000.flac"));
  int64_t by_name = add_source("/moved/song-001.flac", "h1");
  add_source("/a/song-002.flac", "h2a");  // two sources share this name: ambiguous
  add_source("/b/song-002.flac", "h2b");
  write_truth_file(
      {{"song-000.flac", {{0, 15}}}, {"song-001.flac", {{0, 15}}}, {"song-002.flac", {}}});
  ImportReport report = import_truth(*store_, dir_ / "library/truth.json", {0.5, "truth", false});
  EXPECT_EQ(report.sources, 2);
  EXPECT_EQ(labels_of(by_hash, "truth").size(), 3u);
  EXPECT_EQ(labels_of(by_name, "truth").size(), 3u);
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("song-002.flac"), std::string::npos);
}

TEST_F(LabelsTest, TruthOptionsAreChecked) {
  write_truth_file({});
  EXPECT_THROW(import_truth(*store_, dir_ / "library/truth.json", {0, "truth", false}), Error);
  EXPECT_THROW(import_truth(*store_, dir_ / "library/truth.json", {0.5, "", false}), Error);
  EXPECT_THROW(import_truth(*store_, dir_ / "missing.json", {0.5, "truth", false}), Error);
}

TEST_F(LabelsTest, CsvImportsGoodRowsAndReportsBadOnesByLine) {
  int64_t a = add_source("/music/a,b.flac", std::string(64, 'a'));
  int64_t b = add_source("/music/b.flac", std::string(64, 'b'));
  std::ofstream(dir_ / "in.csv") << "\"/music/a,b.flac\",0,sax,ana\n"  // 1 ok (quoted comma)
                                 << std::string(64, 'b') << ",5,not_sax,ben\n"  // 2 ok, by hash
                                 << "/music/none.flac,0,sax,ana\n"              // 3 unknown source
                                 << "/music/b.flac,five,sax,ana\n"              // 4 bad start
                                 << "/music/b.flac,0,maybe,ana\n"               // 5 bad label
                                 << "/music/b.flac,0,sax,\n"                    // 6 no annotator
                                 << "\n"                                        // 7 blank: skipped
                                 << "/music/b.flac,7,sax,ana\n"                 // 8 no such sample
                                 << "/music/b.flac,10.000,unsure,ana\r\n";      // 9 ok, CRLF
  ImportReport report = import_csv(*store_, dir_ / "in.csv");
  EXPECT_EQ(report.votes(), 3);
  ASSERT_EQ(report.problems.size(), 5u);
  const char* expected[] = {"in.csv:3: unknown source", "in.csv:4: start", "in.csv:5: label",
                            "in.csv:6: annotator", "in.csv:8: no sample"};
  for (size_t i = 0; i < 5; ++i)
    EXPECT_NE(report.problems[i].find(expected[i]), std::string::npos) << report.problems[i];
  EXPECT_EQ(labels_of(a, "ana").at(0), Label::sax);
  EXPECT_EQ(labels_of(b, "ben").at(5), Label::not_sax);
  EXPECT_EQ(labels_of(b, "ana").at(10), Label::unsure);
}

TEST_F(LabelsTest, CsvExportImportRoundTrip) {
  add_source("/music/a.flac", "ha");
  add_source("/music/b \"quoted\".flac", "hb");
  std::ofstream(dir_ / "votes.csv") << "annotator,label,start,source\n"
                                    << "ana,sax,0,/music/a.flac\n"
                                    << "ben,sax,0,/music/a.flac\n"
                                    << "cy,not_sax,0,/music/a.flac\n"
                                    << "ana,not_sax,5,\"/music/b \"\"quoted\"\".flac\"\n"
                                    << "ben,unsure,10,/music/a.flac\n";
  ASSERT_EQ(import_csv(*store_, dir_ / "votes.csv").votes(), 5);
  auto before = all_votes();

  std::string csv = export_labels(*store_, ExportFormat::csv);
  std::ofstream(dir_ / "export.csv") << csv;
  for (const char* who : {"ana", "ben", "cy"}) store_->delete_votes(who);
  ASSERT_TRUE(store_->votes().empty());
  ImportReport report = import_csv(*store_, dir_ / "export.csv");
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  EXPECT_EQ(all_votes(), before);
  EXPECT_NE(csv.find(",sax,sax,"), std::string::npos) << "reconciled label of a: sax (2 of 3)\n"
                                                      << csv;

  auto json = nlohmann::json::parse(export_labels(*store_, ExportFormat::json));
  ASSERT_EQ(json.size(), 3u);
  for (const auto& sample : json)
    if (sample["source"] == "/music/a.flac" && sample["start"] == 0) {
      EXPECT_EQ(sample["reconciled"], "sax");
      EXPECT_EQ(sample["votes"].size(), 3u);
    }
}

TEST_F(LabelsTest, EveryNameRoundTripsThroughCsv) {
  // A name with a line break was split across two rows on import (its votes lost); names that
  // start like a formula went to spreadsheets as formulas.
  const std::vector<std::string> names = {"line\nbreak",
                                          "crlf\r\nname",
                                          "say \"hi\"",
                                          "a,b,c",
                                          "=HYPERLINK(\"x\")",
                                          "+1",
                                          "-2",
                                          "@sum",
                                          "'=already",
                                          "''-twice",
                                          "'plain",
                                          "\tlead",
                                          "Zoë 山田",
                                          "\u202eRTL\u202c mark",
                                          "\u200fעברית\u200f",
                                          " spaced ",
                                          "\"",
                                          "trailing\n"};
  const int64_t a = add_source("/music/=odd,\n\"name\".flac", "ha");
  for (const std::string& name : names)
    store_->add_vote(store_->samples_of(a)[0].id, name, Label::sax);
  const auto before = all_votes();
  ASSERT_EQ(before.size(), names.size());

  const std::string csv = export_labels(*store_, ExportFormat::csv);
  for (const char* formula : {"\n=HYP", ",=HYP", "\n+1", ",+1", ",-2", ",@sum", ",\"=odd"})
    EXPECT_EQ(csv.find(formula), std::string::npos) << formula << " in\n" << csv;
  EXPECT_NE(csv.find(",\"'=HYPERLINK(\"\"x\"\")\","), std::string::npos) << csv;
  EXPECT_NE(csv.find(",'+1,"), std::string::npos) << csv;
  std::ofstream(dir_ / "export.csv", std::ios::binary) << csv;
  for (const std::string& name : names) store_->delete_votes(name);
  ASSERT_TRUE(store_->votes().empty());
  const ImportReport report = import_csv(*store_, dir_ / "export.csv");
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
  EXPECT_EQ(all_votes(), before);
}

TEST(CsvFormula, NeutraliseAndRestoreAreInverse) {
  for (const std::string text : {"=1+1", "'=1", "''@x", "'", "''", "plain", "'plain", "-", ""}) {
    EXPECT_EQ(restore_formula(neutralise_formula(text)), text) << text;
    const std::string shown = neutralise_formula(text);
    EXPECT_TRUE(shown.empty() || std::string("=+-@").find(shown[0]) == std::string::npos) << shown;
  }
}

TEST_F(LabelsTest, ExportFormatIsChecked) {
  EXPECT_EQ(parse_export_format("json"), ExportFormat::json);
  EXPECT_THROW(parse_export_format("xml"), Error);
  EXPECT_THROW(import_csv(*store_, dir_ / "missing.csv"), Error);
}

TEST(CsvLine, ARecordSpansTheLinesOfAQuotedLineBreak) {
  std::istringstream in("a,\"two\nlines\",b\r\nc,\"x\"\"\n\"\"y\"\nlast");
  std::string record;
  int lines = 0;
  ASSERT_TRUE(read_csv_record(in, record, lines));
  EXPECT_EQ(lines, 2);
  EXPECT_EQ(split_csv_line(record), (std::vector<std::string>{"a", "two\nlines", "b"}));
  ASSERT_TRUE(read_csv_record(in, record, lines));
  EXPECT_EQ(lines, 2);
  EXPECT_EQ(split_csv_line(record), (std::vector<std::string>{"c", "x\"\n\"y"}));
  ASSERT_TRUE(read_csv_record(in, record, lines));
  EXPECT_EQ(record, "last");
  EXPECT_FALSE(read_csv_record(in, record, lines));
}

TEST(CsvLine, SplitsQuotedFields) {
  EXPECT_EQ(split_csv_line("a,\"b,c\",\"d\"\"e\",\r"),
            (std::vector<std::string>{"a", "b,c", "d\"e", ""}));
}
