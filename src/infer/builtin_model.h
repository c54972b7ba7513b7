#pragma once
// The detector that ships inside saxdetect: EfficientAT's mn04_as AudioSet tagger
// (models/efficientat/, MIT licence), embedded in the binary at build time so that a fresh clone
// detects with no training, no download and no file beside the binary.
#include <string>

#include "infer/weights.h"

namespace sax {

// AudioSet's Saxophone class (/m/06ncr) among the 527 outputs.
inline constexpr int kAudioSetSaxophone = 197;
inline constexpr int kAudioSetClasses = 527;

// The built-in model's weights, read from the embedded file once (its SHA-256 checked).
const WeightsFile& builtin_efficientat_weights();
// Names the built-in weights where results are stored per model: "efficientat-mn04_as-" and
// the start of the file's SHA-256.
std::string builtin_model_id();

}  // namespace sax
