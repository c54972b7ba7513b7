#pragma once
// Subcommands register themselves: each cmd_*.cpp defines a static sax::cli::Command whose
// setup function adds a CLI11 subcommand. main.cpp only builds the app and runs it.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/home.h"

namespace sax::cli {

// Options every subcommand understands (given before or after the subcommand name).
struct GlobalOptions {
  std::string home;  // --home, else $SAXDETECT_HOME, else ./saxdetect-data
  std::string db;    // --db, else $SAXDETECT_DB, else SQLite in the home
  bool quiet = false;
  bool verbose = false;

  Home resolve_home() const { return Home::resolve(home); }
};

using Setup = std::function<void(CLI::App& app, const GlobalOptions& options)>;

struct Command {
  Command(int order, Setup setup);  // order: position in --help
};

std::vector<std::pair<int, Setup>>& registry();

// Commands that take many inputs (files, folders, CSV rows) end with 0 when every input was
// done, 1 when none was, and 2 when some were and the others were reported, so that a script
// can tell a partial run from a clean one. Each such command's --help ends with this.
inline const char* const kExitStatusHelp =
    "Exit status: 0 when every input was done, 1 when none was, 2 when only some were (the "
    "others are listed).";
// Appends kExitStatusHelp to the command's --help footer (after what is there).
inline void add_exit_status_help(CLI::App* command) {
  const std::string footer = command->get_footer();
  command->footer(footer.empty() ? kExitStatusHelp : footer + "\n\n" + kExitStatusHelp);
}
// Ends the command with the exit status above (returns for 0).
inline void throw_exit_status(size_t done, size_t failed) {
  if (done == 0) throw CLI::RuntimeError(1);
  if (failed > 0) throw CLI::RuntimeError(2);
}

// The plain saxdetect only (libtorch_commands.cpp): replaces this process with saxdetect-torch,
// next to this executable, running the same command line `argv`. Throws sax::Error when it
// cannot.
void run_in_libtorch_executable(char** argv);

}  // namespace sax::cli
