#include "exports/zip_writer.h"

#include <ctime>
#include <filesystem>

#include <minizip/zip.h>

namespace iotstream::exports {

struct ZipWriter::Impl {
  std::string path;
  zipFile zip = nullptr;  // null once finished or failed
  ~Impl() {
    if (zip == nullptr) return;
    zipClose(zip, nullptr);
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

ZipWriter::ZipWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ZipWriter::~ZipWriter() = default;

Result<std::unique_ptr<ZipWriter>> ZipWriter::Create(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->zip = zipOpen64(path.c_str(), APPEND_STATUS_CREATE);
  if (impl->zip == nullptr) return Status::IOError("cannot create " + path);
  return std::unique_ptr<ZipWriter>(new ZipWriter(std::move(impl)));
}

Status ZipWriter::Add(const std::string& name, std::string_view bytes, int64_t mtime_ms) {
  if (impl_->zip == nullptr) return Status::IOError("the archive " + impl_->path + " is closed");
  zip_fileinfo info{};
  const std::time_t t = static_cast<std::time_t>(mtime_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  info.tmz_date.tm_sec = static_cast<uInt>(tm.tm_sec);
  info.tmz_date.tm_min = static_cast<uInt>(tm.tm_min);
  info.tmz_date.tm_hour = static_cast<uInt>(tm.tm_hour);
  info.tmz_date.tm_mday = static_cast<uInt>(tm.tm_mday);
  info.tmz_date.tm_mon = static_cast<uInt>(tm.tm_mon);
  info.tmz_date.tm_year = static_cast<uInt>(tm.tm_year + 1900);
  if (bytes.size() >= 0xffffffffu) return Status::InvalidArgument(name + " is too large for a ZIP entry");
  // Method 0, level 0: stored.
  int rc = zipOpenNewFileInZip64(impl_->zip, name.c_str(), &info, nullptr, 0, nullptr, 0, nullptr, 0, 0, 0);
  if (rc == ZIP_OK && !bytes.empty()) {
    rc = zipWriteInFileInZip(impl_->zip, bytes.data(), static_cast<unsigned>(bytes.size()));
  }
  if (rc == ZIP_OK) rc = zipCloseFileInZip(impl_->zip);
  if (rc != ZIP_OK) {
    zipClose(impl_->zip, nullptr);
    impl_->zip = nullptr;
    std::error_code ec;
    std::filesystem::remove(impl_->path, ec);
    return Status::IOError("cannot write " + name + " into " + impl_->path + " (minizip error " + std::to_string(rc) +
                           ")");
  }
  return Status::Ok();
}

Status ZipWriter::Finish() {
  if (impl_->zip == nullptr) return Status::IOError("the archive " + impl_->path + " is closed");
  const int rc = zipClose(impl_->zip, nullptr);
  impl_->zip = nullptr;
  if (rc != ZIP_OK) {
    std::error_code ec;
    std::filesystem::remove(impl_->path, ec);
    return Status::IOError("cannot finish " + impl_->path + " (minizip error " + std::to_string(rc) + ")");
  }
  return Status::Ok();
}

}  // namespace iotstream::exports
