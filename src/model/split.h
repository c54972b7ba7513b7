#pragma once
// Splits that do not cheat: grouped by recording, stratified by label. LibTorch-free.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sax {

struct LabeledSample;

struct Split {
  std::vector<size_t> train, validation, test;  // indices into the sample list
};
// Grouped by recording (LabeledSample::group(): all samples of a song, and of excerpts or
// copies of it with the same tags, land on one side), stratified by label (groups
// are dealt so each side gets about its share of sax samples). Deterministic for a seed.
Split grouped_split(const std::vector<LabeledSample>& samples, double validation_fraction,
                    double test_fraction, uint64_t seed);
// k folds of indices, grouped and stratified the same way; every index in exactly one fold.
std::vector<std::vector<size_t>> grouped_folds(const std::vector<LabeledSample>& samples,
                                               const std::vector<size_t>& indices, int folds,
                                               uint64_t seed);

}  // namespace sax
