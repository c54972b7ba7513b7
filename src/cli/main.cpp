// saxdetect: find the saxophone in music. A thin command line over the sax_* libraries.
// Built twice (src/cli/CMakeLists.txt): `saxdetect` without LibTorch, which hands commands that
// need it to `saxdetect-torch` (SAXDETECT_WITH_LIBTORCH), which has every command.
#include <algorithm>
#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/command.h"
#include "common/allocator.h"
#include "common/error.h"

namespace sax::cli {

std::vector<std::pair<int, Setup>>& registry() {
  static std::vector<std::pair<int, Setup>> commands;
  return commands;
}

Command::Command(int order, Setup setup) { registry().emplace_back(order, std::move(setup)); }

}  // namespace sax::cli

int main(int argc, char** argv) {
  using namespace sax::cli;
  sax::keep_work_buffers_on_heap();
  // Logs and errors go to stderr: stdout carries results (--json, --csv) that scripts parse.
  spdlog::set_default_logger(spdlog::stderr_color_mt("saxdetect"));
  spdlog::set_pattern("%^%l%$: %v");
  CLI::App app{"saxdetect: find the saxophone in music"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", "saxdetect 0.1.0");

  GlobalOptions options;
  app.add_option("--home", options.home, "Data home (default $SAXDETECT_HOME or ./saxdetect-data)");
  app.add_option("--db", options.db,
                 "postgresql://... to use PostgreSQL (default: SQLite in the home)")
      ->envname("SAXDETECT_DB");
  app.add_flag("-q,--quiet", options.quiet, "Only errors and the final summary");
  app.add_flag("-v,--verbose", options.verbose, "More detail");

  app.parse_complete_callback([&options] {
    spdlog::set_level(options.quiet     ? spdlog::level::warn
                      : options.verbose ? spdlog::level::debug
                                        : spdlog::level::info);
  });

  auto& commands = registry();
  std::stable_sort(commands.begin(), commands.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [order, setup] : commands) setup(app, options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const sax::NeedsLibTorch& e) {
#ifdef SAXDETECT_WITH_LIBTORCH
    spdlog::error("unexpected error: {} needs LibTorch", e.what());
    return 2;
#else
    spdlog::debug("{} needs LibTorch: running saxdetect-torch", e.what());
    try {
      run_in_libtorch_executable(argv);
    } catch (const sax::Error& failure) {
      spdlog::error("{}", failure.what());
    }
    return 1;
#endif
  } catch (const sax::Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("unexpected error: {}", e.what());
    return 2;
  }
  return 0;
}
