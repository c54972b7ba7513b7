#pragma once
// Who is labelling. A labeller (a browser, or a script) opens a session with the name to label
// under (POST /api/session); the server answers with a random token in an HttpOnly,
// SameSite=Strict cookie, and votes are written and undone only under a session, as its name.
// A name belongs to one session while the server runs: another session asking for it gets the
// name with a suffix, "ana (2)". Anyone could otherwise vote as, or undo the votes of, any
// name shown on the status page. Sessions live in memory: a restarted server hands names out
// afresh, and a session can undo only the votes it cast itself.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

namespace sax::web {

inline const char* const kSessionCookie = "saxdetect_session";

class Sessions {
 public:
  struct Opened {
    std::string token;
    std::string name;  // the name asked for, or it with a suffix when another session holds it
  };

  // A session for `name` (already checked). `token`, when it is a live session, is reused and
  // gives up its earlier name. HttpError 409 when no suffixed name fits the length limit, 503
  // past kMaxSessions.
  Opened open(const std::string& name, const std::string& token);
  // The name of a live session; nullopt for an unknown token.
  std::optional<std::string> name_of(const std::string& token) const;
  // The samples whose vote under the session's name the session cast itself: undo may take
  // the name's latest vote only while there is one (it is then one of these), and forgets it.
  void voted(const std::string& token, int64_t sample_id);
  bool has_votes(const std::string& token) const;
  void undone(const std::string& token, int64_t sample_id);

  static constexpr size_t kMaxSessions = 10000;

 private:
  struct Session {
    std::string name;
    std::set<int64_t> voted;  // sample ids
  };
  std::string free_name(const std::string& name) const;  // caller holds mutex_

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Session> sessions_;    // by token
  std::unordered_map<std::string, std::string> holder_;  // name -> token
};

// The value of cookie `name` in a Cookie header ("a=1; saxdetect_session=..."); empty if none.
std::string cookie_value(const std::string& header, const std::string& name);

}  // namespace sax::web
