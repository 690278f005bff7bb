// Pause points for tests that must force an interleaving of two runs (e.g. a prune between a
// backup's lock and its manifest). Inert unless DHANBAK_TEST_PAUSE lists the point's name
// (comma-separated) and DHANBAK_TEST_PAUSE_DIR names a directory: then the run creates
// DIR/NAME.reached and waits until DIR/NAME.continue exists (a signal still interrupts it).
// With DIR/NAME.again present it pauses at every pass: leaving, it removes .reached, then
// .continue.
#pragma once

namespace dhanbak {

void TestPausePoint(const char* name);

}  // namespace dhanbak
