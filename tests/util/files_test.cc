#include "simtune/files.h"

#include <gtest/gtest.h>

#include <fstream>

#include "simtune/scratch.h"

namespace simtune {
namespace {

TEST(FilesTest, ReadsWholeFileWithNulBytesAndNewlines) {
  ScratchDir dir("files-test");
  ASSERT_FALSE(dir.path().empty());
  const std::string bytes("a\nb\0c\r\n", 7);
  std::ofstream(dir.path() / "f", std::ios::binary) << bytes;
  auto text = ReadWholeFile(dir.path() / "f");
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, bytes);
  std::ofstream(dir.path() / "empty");
  EXPECT_EQ(ReadWholeFile(dir.path() / "empty"), std::optional<std::string>(""));
}

TEST(FilesTest, MissingFileOrFolderIsNullopt) {
  ScratchDir dir("files-test");
  ASSERT_FALSE(dir.path().empty());
  EXPECT_FALSE(ReadWholeFile(dir.path() / "absent").has_value());
  EXPECT_FALSE(ReadWholeFile(dir.path()).has_value());
}

TEST(FilesTest, FirstLineIsTrimmedAndEmptyWhenUnreadable) {
  ScratchDir dir("files-test");
  ASSERT_FALSE(dir.path().empty());
  std::ofstream(dir.path() / "size") << "  1024K \nsecond\n";
  EXPECT_EQ(ReadFirstLine(dir.path() / "size"), "1024K");
  EXPECT_EQ(ReadFirstLine(dir.path() / "absent"), "");
}

}  // namespace
}  // namespace simtune
