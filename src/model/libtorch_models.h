#pragma once
// Lets load_detector (infer/detector.h) open the model folders only LibTorch can run: backbone
// models, and CNN folders from before model.safetensors (their model.pt). Call it in programs
// that link src/model before they load models (saxdetect-torch's main, tests); idempotent.
namespace sax {

void install_libtorch_models();

}  // namespace sax
