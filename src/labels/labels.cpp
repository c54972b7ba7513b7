#include "labels/labels.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <istream>
#include <map>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/hash.h"
#include "common/progress.h"

namespace sax {

namespace fs = std::filesystem;

Label label_from_truth(const std::vector<TimeRange>& sax, double start, double duration,
                       double min_overlap) {
  double overlap = covered_seconds(sax, start, start + duration);
  if (overlap <= 0) return Label::not_sax;
  return overlap >= min_overlap ? Label::sax : Label::unsure;
}

namespace {

std::string canonical(const std::string& path) {
  std::error_code error;
  fs::path resolved = fs::weakly_canonical(path, error);
  return error ? path : resolved.string();
}

// Finds sources by path, content hash or (unique) file name.
class SourceIndex {
 public:
  explicit SourceIndex(std::vector<Source> sources) : sources_(std::move(sources)) {
    for (size_t i = 0; i < sources_.size(); ++i) {
      by_path_[canonical(sources_[i].path)] = i;
      by_hash_[sources_[i].hash] = i;
      by_name_[fs::path(sources_[i].path).filename().string()].push_back(i);
    }
  }

  // `text` is a path or a SHA-256 hash (CSV rows).
  const Source* find(const std::string& text) const {
    if (auto hash = by_hash_.find(text); hash != by_hash_.end()) return &sources_[hash->second];
    return find_file(text, false);
  }

  // A file on disk: by path, then by its content hash, then by its name when unique.
  const Source* find_file(const fs::path& file, bool hash_it) const {
    if (auto path = by_path_.find(canonical(file.string())); path != by_path_.end())
      return &sources_[path->second];
    std::error_code error;
    if (hash_it && fs::is_regular_file(file, error)) {
      if (auto hash = by_hash_.find(sha256_file(file)); hash != by_hash_.end())
        return &sources_[hash->second];
    }
    auto name = by_name_.find(file.filename().string());
    return name != by_name_.end() && name->second.size() == 1 ? &sources_[name->second.front()]
                                                              : nullptr;
  }

 private:
  std::vector<Source> sources_;
  std::map<std::string, size_t> by_path_, by_hash_;
  std::map<std::string, std::vector<size_t>> by_name_;
};

void count(ImportReport& report, Label label, bool replaced) {
  (label == Label::sax ? report.sax : label == Label::not_sax ? report.not_sax : report.unsure)++;
  report.replaced += replaced;
}

}  // namespace

ImportReport import_truth(Store& store, const fs::path& truth_json,
                          const TruthImportOptions& options) {
  if (!(options.min_overlap > 0)) throw Error("--min-overlap must be more than 0 seconds");
  if (options.annotator.empty()) throw Error("--annotator must not be empty");
  std::vector<SongTruth> songs = read_truth(truth_json);
  SourceIndex sources(store.sources());
  ImportReport report;
  Progress progress("labels", songs.size(),
                    options.progress ? Progress::Mode::automatic : Progress::Mode::never);
  for (const SongTruth& song : songs) {
    const Source* source = sources.find_file(truth_json.parent_path() / song.file, true);
    progress.advance(1, song.duration);
    if (!source) {
      report.problems.push_back(song.file +
                                ": not ingested (no source with that path, content or name)");
      continue;
    }
    ++report.sources;
    store.set_sax_times(source->id, song.sax);
    for (const Sample& sample : store.samples_of(source->id)) {
      Label label = label_from_truth(song.sax, sample.start, sample.duration, options.min_overlap);
      count(report, label, store.add_vote(sample.id, options.annotator, label));
    }
  }
  progress.finish();
  return report;
}

namespace {

// Spreadsheets run a cell that starts with one of these as a formula (=HYPERLINK(...)).
bool starts_formula(const std::string& text, size_t at) {
  return at < text.size() && std::string_view("=+-@\t\r").find(text[at]) != std::string::npos;
}

// Where a run of leading apostrophes ends.
size_t after_apostrophes(const std::string& text) {
  const size_t end = text.find_first_not_of('\'');
  return end == std::string::npos ? text.size() : end;
}

}  // namespace

std::string neutralise_formula(const std::string& text) {
  // Apostrophes already in front get one more too, so restore_formula can always undo this.
  return starts_formula(text, after_apostrophes(text)) ? "'" + text : text;
}

std::string restore_formula(const std::string& text) {
  const size_t apostrophes = after_apostrophes(text);
  return apostrophes > 0 && starts_formula(text, apostrophes) ? text.substr(1) : text;
}

bool read_csv_record(std::istream& in, std::string& record, int& lines) {
  record.clear();
  lines = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (lines++ > 0) record += '\n';  // a newline inside a quoted field
    record += line;
    // An odd number of quotes so far: a quoted field is still open (an escaped "" adds two).
    if (std::count(record.begin(), record.end(), '"') % 2 == 0) return true;
  }
  return lines > 0;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else if (c != '\r' || quoted) {
      fields.back() += c;
    }
  }
  return fields;
}

namespace {

struct Columns {
  int source = 0, hash = -1, start = 1, label = 2, annotator = 3;
};

int column_of(const std::vector<std::string>& header, std::initializer_list<const char*> names) {
  for (size_t i = 0; i < header.size(); ++i)
    for (const char* name : names)
      if (header[i] == name) return static_cast<int>(i);
  return -1;
}

// A first row naming "start" and "label" is a header; otherwise the default column order.
std::optional<Columns> header_columns(const std::vector<std::string>& row) {
  Columns columns;
  columns.start = column_of(row, {"start"});
  columns.label = column_of(row, {"label"});
  if (columns.start < 0 || columns.label < 0) return std::nullopt;
  columns.source = column_of(row, {"source", "path"});
  columns.hash = column_of(row, {"hash", "source_hash"});
  columns.annotator = column_of(row, {"annotator"});
  return columns;
}

std::string field(const std::vector<std::string>& row, int column) {
  return column >= 0 && column < static_cast<int>(row.size()) ? row[column] : "";
}

std::optional<double> parse_seconds(const std::string& text) {
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size() && std::isfinite(value) && value >= 0) return value;
  } catch (const std::logic_error&) {
  }
  return std::nullopt;
}

const Sample* sample_at(const std::vector<Sample>& samples, double start) {
  for (const Sample& sample : samples)
    if (std::abs(sample.start - start) < 0.01) return &sample;
  return nullptr;
}

}  // namespace

ImportReport import_csv(Store& store, const fs::path& csv) {
  std::ifstream in(csv);
  if (!in) throw Error(csv.string() + ": cannot open");
  SourceIndex sources(store.sources());
  std::map<int64_t, std::vector<Sample>> samples;  // per source, loaded once
  ImportReport report;
  Columns columns;
  std::string line;
  int lines = 0;
  for (int number = 1; read_csv_record(in, line, lines); number += lines) {
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    if (number == 1 && (line[first] == '{' || line[first] == '['))
      throw Error(csv.string() +
                  ": this is JSON, not CSV; a truth.json from `saxdetect synth` is imported with "
                  "--from-truth");
    std::vector<std::string> row = split_csv_line(line);
    if (number == 1)
      if (auto header = header_columns(row)) {
        columns = *header;
        continue;
      }
    auto bad = [&](const std::string& why) {
      report.problems.push_back(fmt::format("{}:{}: {}", csv.string(), number, why));
    };
    std::string hash = field(row, columns.hash);
    std::string source_text = restore_formula(field(row, columns.source));
    const Source* source = !hash.empty() ? sources.find(hash) : nullptr;
    if (!source && !source_text.empty()) source = sources.find(source_text);
    std::optional<double> start = parse_seconds(field(row, columns.start));
    std::optional<Label> label = parse_label(field(row, columns.label));
    std::string annotator = restore_formula(field(row, columns.annotator));
    if (!source) {
      bad("unknown source '" + (source_text.empty() ? hash : source_text) + "'");
    } else if (!start) {
      bad("start '" + field(row, columns.start) + "' is not a number of seconds");
    } else if (!label) {
      bad("label '" + field(row, columns.label) + "' is not sax, not_sax or unsure");
    } else if (annotator.empty()) {
      bad("annotator is empty");
    } else {
      if (!samples.count(source->id)) samples[source->id] = store.samples_of(source->id);
      const Sample* sample = sample_at(samples[source->id], *start);
      if (!sample) {
        bad(fmt::format("no sample of {} starts at {} s", source->path, *start));
        continue;
      }
      count(report, *label, store.add_vote(sample->id, annotator, *label));
    }
  }
  return report;
}

ExportFormat parse_export_format(const std::string& name) {
  if (name == "csv") return ExportFormat::csv;
  if (name == "json") return ExportFormat::json;
  throw Error("--format: expected csv or json, got '" + name + "'");
}

namespace {

// RFC 4180: a field holding a comma, quote or line break is quoted, its quotes doubled. Free
// text (paths, names) is also neutralised for spreadsheets.
std::string csv_field(const std::string& raw) {
  const std::string text = neutralise_formula(raw);
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

struct VotedSample {
  const Sample* sample;
  const Source* source;
  std::vector<Vote> votes;
  Label reconciled;
};

std::vector<VotedSample> voted_samples(const std::vector<Sample>& samples,
                                       const std::vector<Source>& sources,
                                       const std::vector<Vote>& votes) {
  std::map<int64_t, const Sample*> sample_by_id;
  std::map<int64_t, const Source*> source_by_id;
  for (const Sample& sample : samples) sample_by_id[sample.id] = &sample;
  for (const Source& source : sources) source_by_id[source.id] = &source;
  std::map<int64_t, std::vector<Vote>> grouped;  // ordered by sample id: a stable export
  for (const Vote& vote : votes) grouped[vote.sample_id].push_back(vote);
  std::vector<VotedSample> out;
  for (auto& [id, its_votes] : grouped) {
    auto sample = sample_by_id.find(id);
    if (sample == sample_by_id.end()) continue;
    std::vector<Label> labels;
    for (const Vote& vote : its_votes) labels.push_back(vote.label);
    const Source* source = source_by_id.count(sample->second->source_id)
                               ? source_by_id[sample->second->source_id]
                               : nullptr;
    out.push_back({sample->second, source, its_votes, reconcile(labels)});
  }
  return out;
}

}  // namespace

std::string export_labels(Store& store, ExportFormat format) {
  std::vector<Sample> samples = store.samples();
  std::vector<Source> sources = store.sources();
  std::vector<VotedSample> voted = voted_samples(samples, sources, store.votes());
  if (format == ExportFormat::json) {
    nlohmann::json list = nlohmann::json::array();
    for (const VotedSample& v : voted) {
      nlohmann::json votes = nlohmann::json::array();
      for (const Vote& vote : v.votes)
        votes.push_back({{"annotator", vote.annotator},
                         {"label", label_name(vote.label)},
                         {"created", vote.created}});
      list.push_back({{"sample", v.sample->id},
                      {"source", v.source ? v.source->path : ""},
                      {"hash", v.source ? v.source->hash : ""},
                      {"start", v.sample->start},
                      {"duration", v.sample->duration},
                      {"reconciled", label_name(v.reconciled)},
                      {"votes", votes}});
    }
    return list.dump(2) + "\n";
  }
  std::string out = "source,hash,start,duration,sample,annotator,label,reconciled,created\n";
  for (const VotedSample& v : voted)
    for (const Vote& vote : v.votes)
      out += fmt::format("{},{},{},{},{},{},{},{},{}\n", csv_field(v.source ? v.source->path : ""),
                         v.source ? v.source->hash : "", v.sample->start, v.sample->duration,
                         v.sample->id, csv_field(vote.annotator), label_name(vote.label),
                         label_name(v.reconciled), vote.created);
  return out;
}

}  // namespace sax
