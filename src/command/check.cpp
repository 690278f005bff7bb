#include "command/check.hpp"

#include <iostream>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "common/log.hpp"
#include "dhanbak/error.hpp"
#include "stream/chunk_fetcher.hpp"

namespace dhanbak::command {

int RunCheck(Context& ctx, bool read_data) {
  auto locks = ctx.Lock(LockMode::kShared);
  auto& repo = ctx.repository();
  std::vector<std::string> problems;
  std::unordered_set<std::string> stored;
  ctx.storage().List("chunks/", [&](const storage::ObjectInfo& o) { stored.insert(o.name.substr(o.name.rfind('/') + 1)); });
  auto ids = repo.ListManifestIds();
  int64_t streams = 0, chunks_checked = 0, bytes_read = 0;
  stream::ChunkFetcher fetcher(repo, 4, 8);
  for (const auto& id : ids) {
    format::Manifest m;
    try {
      m = repo.GetManifest(id);
    } catch (const Error& e) {
      problems.push_back(std::string("manifest ") + id + ": " + e.what());
      continue;
    }
    std::vector<std::pair<std::string, const format::StreamRef*>> refs{{"schema archive", &m.schema},
                                                                       {"cluster globals", &m.globals}};
    for (const auto& t : m.tables) refs.emplace_back("table " + t.schema + "." + t.name, &t.data);
    for (const auto& [what, ref] : refs) {
      ++streams;
      bool complete = true;
      for (const auto& c : ref->chunks) {
        if (!stored.count(c)) {
          problems.push_back("backup " + id + " (" + m.database + "), " + what + ": object '" +
                             format::Repository::ChunkName(c) + "' is missing");
          complete = false;
        }
      }
      if (!read_data || !complete) continue;
      try {
        fetcher.Stream(*ref, "backup " + id + " (" + m.database + "), " + what, [&](std::string_view d) {
          bytes_read += static_cast<int64_t>(d.size());
        });
        chunks_checked += static_cast<int64_t>(ref->chunks.size());
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kInterrupted) throw;
        problems.push_back("backup " + id + " (" + m.database + "), " + what + ": " + e.what());
      }
    }
  }
  if (ctx.options().json) {
    std::cout << nlohmann::json{{"repository", ctx.repository_url()}, {"manifests", ids.size()},
                                {"streams", streams}, {"stored_chunks", stored.size()},
                                {"read_data", read_data}, {"chunks_read", chunks_checked},
                                {"bytes_read", bytes_read}, {"ok", problems.empty()}, {"problems", problems}}
                     .dump(2)
              << "\n";
  } else {
    for (const auto& p : problems) std::cout << "PROBLEM  " << p << "\n";
    std::cout << (problems.empty() ? "ok: " : "FAILED: ") << ids.size() << " backups, " << streams << " streams, "
              << stored.size() << " stored chunks"
              << (read_data ? ", " + std::to_string(chunks_checked) + " chunks read (" +
                                  log::FormatBytes(static_cast<double>(bytes_read)) + ")"
                            : std::string())
              << (problems.empty() ? "" : ", " + std::to_string(problems.size()) + " problem(s)") << "\n";
  }
  return problems.empty() ? 0 : 3;
}

}  // namespace dhanbak::command
