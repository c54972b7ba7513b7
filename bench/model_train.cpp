// Training throughput of the default CNN in C++ (LibTorch): samples per second over a few
// epochs of random 128x108 inputs, augmentation off, batch 16. bench/model.sh runs it next to
// bench/model_torch.py (the same network in Python PyTorch) with the same thread count.
//   bench_model_train [samples=320] [epochs=2] [threads=0: all cores] [device=cpu|cuda|auto]
// (run it with cpu and then cuda on a GPU machine for the GPU's speed-up)
#include <cstdio>
#include <cstdlib>
#include <random>

#include "common/allocator.h"
#include "model/train.h"

int main(int argc, char** argv) {
  sax::keep_work_buffers_on_heap();  // as saxdetect itself does
  const int samples = argc > 1 ? std::atoi(argv[1]) : 320;
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 2;
  sax::TrainConfig config;
  config.epochs = epochs;
  config.patience = epochs;
  config.augment.enabled = false;
  config.net.head = "window";  // the network bench/model_torch.py builds
  config.threads = argc > 3 ? std::atoi(argv[3]) : 0;
  config.device = argc > 4 ? argv[4] : "cpu";  // Python's side runs on the CPU
  sax::ArrayDataset data;
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  sax::Split split;
  for (int i = 0; i < samples; ++i) {
    sax::Spectrogram s{config.features.n_mels, config.features.frames, {}};
    s.values.resize(static_cast<size_t>(s.rows) * s.cols);
    for (auto& v : s.values) v = noise(rng);
    data.inputs.push_back(std::move(s));
    data.labels.push_back(i % 2);
    data.groups.push_back(i);
    (i % 10 == 0 ? split.validation : i % 10 == 1 ? split.test : split.train).push_back(i);
  }
  sax::TrainOptions options;
  options.quiet = true;
  const auto result = sax::train_arrays(data, split, config, {}, options);
  std::printf("cpp_samples_per_second %.2f\n", result.samples_per_second);
  std::printf("cpp_device %s\n", result.device.c_str());
  // bench/model.sh compares it with Python's, so the two networks cannot drift apart unnoticed.
  std::printf("cpp_fc_inputs %lld\n",
              static_cast<long long>(
                  sax::fc_input_size(config.net, config.features.n_mels, config.features.frames)));
  return 0;
}
