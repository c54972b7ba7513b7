#pragma once
// Subcommands register themselves: each cmd_*.cpp defines a static sax::cli::Command whose
// setup function adds a CLI11 subcommand. main.cpp only builds the app and runs it.
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

// The plain saxdetect only (libtorch_commands.cpp): replaces this process with saxdetect-torch,
// next to this executable, running the same command line `argv`. Throws sax::Error when it
// cannot.
void run_in_libtorch_executable(char** argv);

}  // namespace sax::cli
