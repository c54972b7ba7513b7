// The built-in model's file, embedded by the assembler (.incbin) so the binary carries it: no
// path to find at run time, and no 4 MB array for the compiler to parse.
#include "infer/builtin_model.h"

#include <string_view>

#include "infer/pytorch_weights.h"

#include "common/error.h"
#include "common/hash.h"

#include <fmt/format.h>

// SAXDETECT_EFFICIENTAT_FILE and SAXDETECT_EFFICIENTAT_SHA256 come from src/infer/CMakeLists.txt
// (the file and models/efficientat/SHA256SUMS).
__asm__(
    ".pushsection .rodata\n"
    ".balign 64\n"
    "sax_efficientat_begin:\n"
    ".incbin \"" SAXDETECT_EFFICIENTAT_FILE
    "\"\n"
    "sax_efficientat_end:\n"
    ".popsection\n");
extern "C" const char sax_efficientat_begin[];
extern "C" const char sax_efficientat_end[];

namespace sax {

namespace {

WeightsFile read_embedded() {
  const std::string_view bytes(sax_efficientat_begin,
                               static_cast<size_t>(sax_efficientat_end - sax_efficientat_begin));
  const std::string name = "built-in EfficientAT mn04_as";
  if (sha256_bytes(bytes.data(), bytes.size()) != SAXDETECT_EFFICIENTAT_SHA256)
    throw Error(
        fmt::format("{}: the embedded weights do not match models/efficientat/SHA256SUMS; "
                    "rebuild saxdetect",
                    name));
  return parse_pytorch_state_dict(bytes, name);
}

}  // namespace

std::string builtin_model_id() {
  return "efficientat-mn04_as-" + std::string(SAXDETECT_EFFICIENTAT_SHA256).substr(0, 12);
}

const WeightsFile& builtin_efficientat_weights() {
  static const WeightsFile weights = read_embedded();
  return weights;
}

}  // namespace sax
