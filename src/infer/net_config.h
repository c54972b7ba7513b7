#pragma once
// The CNN's architecture as a training config and a model.json name it (LibTorch-free: the
// LibTorch Cnn in src/model and the runtime in infer/cnn.h both build it).
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace sax {

inline constexpr int kGruAuto = -1;  // NetConfig::gru: chosen by training (settle_gru)
// What "auto" becomes: a GRU's weights cost accuracy on a small library and place passages
// better on a large one (docs/design.md).
inline constexpr int kAutoGruUnits = 64;
inline constexpr size_t kAutoGruFromSamples = 2000;

// Conv blocks (conv -> [batch norm] -> ReLU -> pool), then a logit per time step pooled into one
// (the frame head), or flatten -> [hidden] -> 1 logit (the window head).
struct NetConfig {
  int depth = 5;      // conv blocks
  int channels = 16;  // first block; doubles per block up to max_channels
  int max_channels = 64;
  std::vector<int> kernels{5, 3};  // per block; the last entry repeats for deeper blocks
  bool batch_norm = true;
  double dropout = 0.3;      // before each fully connected layer
  std::string pool = "max";  // "max" or "avg"
  int hidden = 64;           // 0: no hidden fully connected layer
  // "frames": a decision per time step of frame_step spectrogram frames (time is pooled only
  // in the first blocks, frequency is averaged out, the same fully connected head scores every
  // step), pooled into the window's decision by linear softmax (sum p^2 / sum p). It learns from
  // window labels alone and tells detection where inside the window the saxophone plays.
  // "window": one decision per window (conv blocks -> flatten -> fully connected), the
  // original design.
  std::string head = "frames";
  // Frame head: input columns per time step, a power of two up to 2^depth. The first
  // log2(frame_step) blocks halve time, the rest pool frequency only. 2 columns are 0.093 s at
  // the default features: finer steps place passage ends better, for more time to train and to
  // predict.
  int frame_step = 2;
  // Frame head: hidden units per direction of a bidirectional GRU between the steps' conv
  // features and the head, so each step's decision hears the whole window (a CRNN, as in DCASE
  // sound event detection); 0: each step is scored from its own features alone. kGruAuto
  // ("auto" in JSON, the default) lets training choose by the library's size (settle_gru): the
  // GRU's weights cost accuracy on a small library and place passages better on a large one.
  int gru = kGruAuto;

  int channels_of(int block) const;  // output channels of a conv block
  int kernel_of(int block) const;
  bool pools_time(int block) const;  // whether a conv block halves time as well as frequency
};

// The net with an "auto" GRU settled for a run on `train_samples` training samples: kAutoGruUnits
// for a frame head from kAutoGruFromSamples on, none otherwise. Other nets come back unchanged.
NetConfig settle_gru(NetConfig net, size_t train_samples);
// Throws sax::Error for a net whose GRU is still "auto": a net is built from a settled config.
void require_settled(const NetConfig& net);

void to_json(nlohmann::json& j, const NetConfig& c);
void from_json(const nlohmann::json& j, NetConfig& c);  // validates; sax::Error names the field

// The net a model.json describes. A field missing there (a model written before the field
// existed) means what models did then, not today's default, which only training configs take:
// no "head" is the window head, no "frame_step" is 4 columns, no "gru" is none.
NetConfig net_of_model(const nlohmann::json& model_description);

}  // namespace sax
