// SIGINT / SIGTERM handling: the handler only sets a flag; long-running loops poll it with
// ThrowIfInterrupted() so that every stage unwinds through its normal cleanup (failed catalog
// row, dropped half-built database, killed child processes).
#pragma once

#include <string>

namespace dhanbak {

void InstallInterruptHandlers();
bool Interrupted();
// The signal that interrupted the run (SIGINT or SIGTERM), 0 when none arrived.
int InterruptSignal();
// Throws Error(kInterrupted) once a signal has arrived.
void ThrowIfInterrupted();
// Cancels the run as SIGTERM would (tests, the [limits] watchdog); ThrowIfInterrupted() then
// throws `reason` when one is given.
void RequestInterrupt(const std::string& reason = "");
// The reason RequestInterrupt() was given, "" after a signal or none: set only when the
// [limits] watchdog stopped the run, which then counts as failed rather than signalled.
std::string InterruptReason();

}  // namespace dhanbak
