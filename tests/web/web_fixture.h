#pragma once
// A data home with a few tiny clips, a SQLite store and a WebServer on an ephemeral loopback
// port, for the web tests. Clips are written with sax::write_audio and registered with the
// store API directly, so these tests do not depend on ingest.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/store.h"
#include "support/testing.h"
#include "web/server.h"

namespace sax::web::testing {

class WebTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts the server (call after adding samples, or any time: the store is live).
  void start(WebOptions options = {});
  // Adds `count` clips of one new source; returns their ids. Silent clips have zero audio.
  std::vector<int64_t> add_source(const std::string& name, int count, bool silent = false);

  httplib::Client client() const;
  // The cookie ("saxdetect_session=...") of a session labelling as `annotator`, opened through
  // POST /api/session the first time (not thread-safe: open them before starting threads).
  std::string session_cookie(const std::string& annotator);
  // client() sending that cookie: votes and undo need a session.
  httplib::Client client_as(const std::string& annotator);
  // One vote through the API; returns the HTTP status.
  int post_vote(int64_t sample_id, const std::string& annotator, const std::string& label);
  nlohmann::json status();
  // GET /api/next; returns the id, or 0 for 204.
  int64_t next_id(const std::string& annotator, const std::string& extra = "");

  // Sends `request` verbatim over a fresh TCP connection and returns the raw response, so tests
  // control every byte of the path (clients would normalise "..").
  std::string raw_request(const std::string& request) const;
  // A TCP connection to the server (the caller closes it); -1 when it cannot connect.
  int connect_socket() const;

  sax::testing::TempDir dir_;
  Home home_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WebServer> server_;
  int port_ = 0;
  int sources_ = 0;
  std::map<std::string, std::string> cookies_;  // by annotator
};

nlohmann::json json_of(const httplib::Result& result);

}  // namespace sax::web::testing
