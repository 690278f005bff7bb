#include "stream/zstd_codec.hpp"

#include <zstd.h>

#include <memory>

#include "dhanbak/error.hpp"

namespace dhanbak::stream {

namespace {

void Check(size_t ret, const char* what, ErrorCode code) {
  if (ZSTD_isError(ret)) throw Error(code, std::string(what) + ": " + ZSTD_getErrorName(ret));
}

// Contexts are reused per thread: creating one costs more than compressing a small chunk. Each use
// starts from a reset context, so no parameter or reference of the previous frame lingers.
ZSTD_CCtx* ThreadCCtx(int level) {
  thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_reset(ctx.get(), ZSTD_reset_session_and_parameters);
  Check(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level), "zstd", ErrorCode::kInternal);
  return ctx.get();
}

// One frame with the context's parameters into `out`; its size.
size_t CompressFrameInto(ZSTD_CCtx* c, std::string_view data, char* out, size_t capacity) {
  size_t n = ZSTD_compress2(c, out, capacity, data.data(), data.size());
  Check(n, "zstd compress", ErrorCode::kInternal);
  return n;
}

// One frame into an uninitialised buffer of the worst-case size (zstd touches only the pages it
// writes), then copied out at its real size: a zero-filled string of compressBound would make every
// page of the worst case resident, about the chunk's own size again per uploading thread.
std::string CompressFrame(ZSTD_CCtx* c, std::string_view data) {
  const size_t bound = ZSTD_compressBound(data.size());
  std::unique_ptr<char[]> buffer(new char[bound]);
  return std::string(buffer.get(), CompressFrameInto(c, data, buffer.get(), bound));
}

}  // namespace

std::string ZstdCompress(std::string_view data, int level) { return CompressFrame(ThreadCCtx(level), data); }

size_t ZstdCompressInto(std::string_view data, char* out, size_t capacity, int level) {
  return CompressFrameInto(ThreadCCtx(level), data, out, capacity);
}

size_t ZstdCompressBound(size_t size) { return ZSTD_compressBound(size); }

namespace {

using DCtxPtr = std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)>;

ZSTD_DCtx* ThreadDCtx() {
  thread_local DCtxPtr ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  // Parameters too: a reference or window limit set for the previous frame must not linger.
  ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_and_parameters);
  return ctx.get();
}

// Largest window a reference frame may ask for: two chunks of the chunker's 8 MiB maximum, with
// room to spare; a forged header cannot make the decoder reserve more.
constexpr int kMaxReferenceWindowLog = 26;

// The smallest window log that covers reference + data (patch-from needs the whole reference
// within the window), at least 1 MiB (zstd's own choice for small inputs at low levels).
int WindowLogFor(size_t bytes) {
  int log = 20;
  while (log < kMaxReferenceWindowLog && (size_t{1} << log) < bytes) ++log;
  return log;
}

std::string DecompressWith(ZSTD_DCtx* ctx, std::string_view frame, size_t max_output, std::string out);

}  // namespace

std::string ZstdCompressWithReference(std::string_view data, std::string_view reference, int level) {
  ZSTD_CCtx* c = ThreadCCtx(level);
  Check(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, WindowLogFor(reference.size() + data.size())), "zstd",
        ErrorCode::kInternal);
  // Long-distance matching finds the reference's rows however far back they sit in it.
  Check(ZSTD_CCtx_setParameter(c, ZSTD_c_enableLongDistanceMatching, 1), "zstd", ErrorCode::kInternal);
  Check(ZSTD_CCtx_refPrefix(c, reference.data(), reference.size()), "zstd", ErrorCode::kInternal);
  return CompressFrame(c, data);
}

std::string ZstdDecompressWithReference(std::string_view frame, std::string_view reference, size_t max_output,
                                        std::string into) {
  ZSTD_DCtx* ctx = ThreadDCtx();
  Check(ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, kMaxReferenceWindowLog), "zstd", ErrorCode::kCorruption);
  Check(ZSTD_DCtx_refPrefix(ctx, reference.data(), reference.size()), "zstd", ErrorCode::kCorruption);
  return DecompressWith(ctx, frame, max_output, std::move(into));
}

std::string ZstdDecompress(std::string_view frame, size_t max_output, std::string into) {
  return DecompressWith(ThreadDCtx(), frame, max_output, std::move(into));
}

namespace {

// A frame that declares its size (every frame dhanbak writes) decodes straight into `out`, sized
// once: no staging buffer, and a pooled `out` is written where its pages already are.
std::string DecompressDeclared(ZSTD_DCtx* ctx, std::string_view frame, size_t declared, std::string out) {
  out.resize(declared);
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  size_t ret = 1;
  while (ret != 0) {
    const size_t in_before = in.pos, out_before = o.pos;
    ret = ZSTD_decompressStream(ctx, &o, &in);
    Check(ret, "zstd", ErrorCode::kCorruption);
    if (ret != 0 && in.pos == in_before && o.pos == out_before) {
      // No progress: the input ran out (truncated) or the frame holds more than it declared.
      throw Error(ErrorCode::kCorruption, o.pos == o.size ? "zstd: object larger than allowed" : "zstd: truncated frame");
    }
  }
  if (in.pos < in.size) throw Error(ErrorCode::kCorruption, "zstd: trailing bytes after frame");
  if (o.pos != declared) throw Error(ErrorCode::kCorruption, "zstd: frame shorter than its declared size");
  return out;
}

std::string DecompressWith(ZSTD_DCtx* ctx, std::string_view frame, size_t max_output, std::string out) {
  out.clear();
  unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared != ZSTD_CONTENTSIZE_ERROR && declared != ZSTD_CONTENTSIZE_UNKNOWN && declared <= max_output) {
    return DecompressDeclared(ctx, frame, static_cast<size_t>(declared), std::move(out));
  }
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  size_t ret = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(ctx, &o, &in);
    Check(ret, "zstd", ErrorCode::kCorruption);
    if (out.size() + o.pos > max_output) throw Error(ErrorCode::kCorruption, "zstd: object larger than allowed");
    out.append(buf.data(), o.pos);
    if (ret == 0 && in.pos < in.size) throw Error(ErrorCode::kCorruption, "zstd: trailing bytes after frame");
  }
  // Flush what the decoder still holds.
  while (ret != 0) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(ctx, &o, &in);
    Check(ret, "zstd", ErrorCode::kCorruption);
    if (o.pos == 0 && ret != 0) throw Error(ErrorCode::kCorruption, "zstd: truncated frame");
    if (out.size() + o.pos > max_output) throw Error(ErrorCode::kCorruption, "zstd: object larger than allowed");
    out.append(buf.data(), o.pos);
  }
  return out;
}

}  // namespace

}  // namespace dhanbak::stream
