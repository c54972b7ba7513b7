// The two executables (src/cli/CMakeLists.txt): saxdetect runs without LibTorch and hands the
// commands that need it to saxdetect-torch with the same command line.
#include <gtest/gtest.h>

#include "support/testing.h"

namespace sax {
namespace {

std::string torch_binary() {
  return std::filesystem::path(SAXDETECT_BIN).parent_path() / "saxdetect-torch";
}

// The "Subcommands:" part of a --help text.
std::string subcommands_of(const std::string& help) {
  const auto at = help.find("Subcommands:");
  return at == std::string::npos ? "" : help.substr(at);
}

TEST(Cli, PlainExecutableDoesNotLinkLibTorch) {
  std::string out;
  ASSERT_EQ(testing::run_shell(std::string("ldd ") + SAXDETECT_BIN, &out), 0) << out;
  EXPECT_EQ(out.find("libtorch"), std::string::npos) << out;
  ASSERT_EQ(testing::run_shell("ldd " + torch_binary(), &out), 0) << out;
  EXPECT_NE(out.find("libtorch"), std::string::npos) << out;
}

TEST(Cli, BothExecutablesListEveryCommandAlike) {
  std::string plain, torch;
  ASSERT_EQ(testing::run_saxdetect("--help", &plain), 0) << plain;
  ASSERT_EQ(testing::run_shell(torch_binary() + " --help", &torch), 0) << torch;
  EXPECT_FALSE(subcommands_of(plain).empty()) << plain;
  EXPECT_EQ(subcommands_of(plain), subcommands_of(torch));
  for (const char* command : {"train", "predict", "serve", "calibrate", "ingest", "assess"})
    EXPECT_NE(plain.find(command), std::string::npos) << command;
}

TEST(Cli, LibTorchCommandsRunInSaxdetectTorchWithTheirOwnHelpAndExitCodes) {
  std::string out;
  ASSERT_EQ(testing::run_saxdetect("train --help", &out), 0) << out;
  EXPECT_NE(out.find("--epochs"), std::string::npos) << out;  // train's own options
  EXPECT_NE(testing::run_saxdetect("train --config /no/such.json", &out), 0);
  EXPECT_NE(out.find("/no/such.json"), std::string::npos) << out;
  EXPECT_EQ(testing::run_saxdetect("train --no-such-option", &out), 109) << out;  // CLI11's code
}

}  // namespace
}  // namespace sax
