#pragma once
#include <atomic>

namespace sax {

// Ctrl-C for long training: the first SIGINT sets the returned flag (pass it as
// TrainOptions::stop; training stops after the current batch, keeping the best checkpoint),
// a second one ends the program at once.
const std::atomic<bool>* stop_on_interrupt();

}  // namespace sax
