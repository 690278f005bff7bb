// SIGINT / SIGTERM handling: the handler only sets a flag; long-running loops poll it with
// ThrowIfInterrupted() so that every stage unwinds through its normal cleanup (failed catalog
// row, dropped half-built database, killed child processes).
#pragma once

namespace dhanbak {

void InstallInterruptHandlers();
bool Interrupted();
// The signal that interrupted the run (SIGINT or SIGTERM), 0 when none arrived.
int InterruptSignal();
// Throws Error(kInterrupted) once a signal has arrived.
void ThrowIfInterrupted();
// For tests and for cancelling a run programmatically.
void RequestInterrupt();

}  // namespace dhanbak
