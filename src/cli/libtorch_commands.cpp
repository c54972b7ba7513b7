// The plain `saxdetect` only (see CMakeLists.txt): the commands that need LibTorch, listed so
// that --help shows every command, and run by replacing this process with `saxdetect-torch`
// (next to this executable) on the same command line. exec keeps the process: its id, its
// stdin/stdout/stderr, its exit code and the signals it gets are those of the command itself.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "cli/command.h"
#include "common/error.h"

namespace sax::cli {

namespace {

struct LibTorchCommand {
  int order;  // as the command's own registration in cmd_<name>.cpp
  const char* name;
  const char* description;
};

// Must match the commands' own names, order and descriptions (tests/cli compare the two
// executables' --help).
constexpr LibTorchCommand kLibTorchCommands[] = {
    {1, "demo", "Synthesise a library, label it, train, and detect saxophone: the whole product"},
    {40, "serve", "Run the labelling web app"},
    {50, "train", "Train the detector (EfficientAT or the CNN) on labelled samples"},
    {51, "cv", "Grouped k-fold cross-validation of a train config"},
    {52, "search", "Hyper-parameter search scored by cross-validation"},
    {53, "assess", "Score this home's labelled samples with a model and report its metrics"},
    {54, "calibrate", "Choose the built-in detector's threshold on this home's labelled samples"},
};

// Registers each as a subcommand that takes any arguments (its own --help included) and asks
// main to hand the whole command line to saxdetect-torch.
const bool kRegistered = [] {
  for (const auto& c : kLibTorchCommands)
    Command(c.order, [c](CLI::App& app, const GlobalOptions&) {
      auto* command = app.add_subcommand(c.name, c.description);
      // Nothing after the name is parsed here, not even --help: saxdetect-torch answers it.
      command->fallthrough(false);
      command->allow_extras();
      command->prefix_command();
      command->set_help_flag();
      command->callback([name = std::string(c.name)] { throw NeedsLibTorch("saxdetect " + name); });
    });
  return true;
}();

}  // namespace

void run_in_libtorch_executable(char** argv) {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  const auto torch =
      (error ? std::filesystem::path(argv[0]) : self).parent_path() / "saxdetect-torch";
  std::fflush(nullptr);
  execv(torch.c_str(), argv);  // returns only on failure
  throw Error(fmt::format("{}: cannot run it ({}); it holds the commands that need LibTorch",
                          torch.string(), std::strerror(errno)));
}

}  // namespace sax::cli
