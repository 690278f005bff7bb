// StartDetachedWorker — one background process per lock file, outliving its caller.
//
// PostgreSQL runs archive_command and restore_command once per file, and waits for each. The
// work that should continue between calls (pushing ready segments ahead, prefetching the next
// ones) runs in a child that leaves the caller's session, writes its log lines to a file, and
// holds an flock(2) on `lock_path` for its life, so that at most one runs per lock.
#pragma once

#include <functional>
#include <string>

namespace dhanbak {

// Starts `work` in a detached child unless a process holds `lock_path` (then returns false). The
// lock is taken before fork and inherited, so two callers never start two workers; the file holds
// "pid N" of the worker. `work`'s result is the child's exit code. Must be called before the
// process started threads (fork copies only the calling thread). Throws Error(kIo).
bool StartDetachedWorker(const std::string& lock_path, const std::string& log_path, const std::function<int()>& work);

// The pid written in `lock_path` while a worker holds it; 0 when none holds it.
int DetachedWorkerPid(const std::string& lock_path);

}  // namespace dhanbak
