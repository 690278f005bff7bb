#include "stream/zstd_codec.hpp"

#include <zstd.h>

#include <memory>

#include "dhanbak/error.hpp"

namespace dhanbak::stream {

std::string ZstdCompress(std::string_view data, int level) {
  // Contexts are reused per thread: creating one costs more than compressing a small chunk.
  thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compressCCtx(ctx.get(), out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) throw Error(ErrorCode::kInternal, std::string("zstd compress: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::string ZstdDecompress(std::string_view frame, size_t max_output) {
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_only);
  std::string out;
  unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared != ZSTD_CONTENTSIZE_ERROR && declared != ZSTD_CONTENTSIZE_UNKNOWN && declared <= max_output) {
    out.reserve(declared);
  }
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  size_t ret = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(ctx.get(), &o, &in);
    if (ZSTD_isError(ret)) throw Error(ErrorCode::kCorruption, std::string("zstd: ") + ZSTD_getErrorName(ret));
    if (out.size() + o.pos > max_output) throw Error(ErrorCode::kCorruption, "zstd: object larger than allowed");
    out.append(buf.data(), o.pos);
    if (ret == 0 && in.pos < in.size) throw Error(ErrorCode::kCorruption, "zstd: trailing bytes after frame");
  }
  // Flush what the decoder still holds.
  while (ret != 0) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    ret = ZSTD_decompressStream(ctx.get(), &o, &in);
    if (ZSTD_isError(ret)) throw Error(ErrorCode::kCorruption, std::string("zstd: ") + ZSTD_getErrorName(ret));
    if (o.pos == 0 && ret != 0) throw Error(ErrorCode::kCorruption, "zstd: truncated frame");
    if (out.size() + o.pos > max_output) throw Error(ErrorCode::kCorruption, "zstd: object larger than allowed");
    out.append(buf.data(), o.pos);
  }
  return out;
}

}  // namespace dhanbak::stream
