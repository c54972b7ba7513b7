#include "model/interrupt.h"

#include <csignal>

namespace sax {

namespace {

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) {
  interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the program
}

}  // namespace

const std::atomic<bool>* stop_on_interrupt() {
  interrupted.store(false);
  std::signal(SIGINT, on_interrupt);
  return &interrupted;
}

}  // namespace sax
