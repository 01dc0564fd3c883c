// The safetensors reader and writer of the checkpoint library: every malformed file is refused with a
// FormatError (or an IoError) that names the problem, valid files round-trip, the writer's header is
// padded. Files are built byte by byte in a temporary directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/int4_tensors.h"
#include "checkpoint/safetensors_writer.h"

namespace int4pack::checkpoint {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "safetensors_test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string &name) const { return (path_ / name).string(); }
  const fs::path &path() const { return path_; }

 private:
  fs::path path_;
};

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(v >> (8 * i));
  return s;
}

void write_bytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string read_bytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// 8-byte LE header length (header.size() unless given) + header + data.
std::string safetensors_bytes(const std::string &header, const std::string &data, uint64_t length = UINT64_MAX) {
  return le64(length == UINT64_MAX ? header.size() : length) + header + data;
}

// Opens `path`, expecting an exception of type E whose message holds every one of `parts`.
template <typename E>
void expect_refused(const std::string &path, const std::vector<std::string> &parts) {
  try {
    SafetensorsFile file(path);
    ADD_FAILURE() << path << " was accepted; expected an error mentioning '" << parts.front() << "'";
  } catch (const E &e) {
    const std::string what = e.what();
    for (const std::string &part : parts)
      EXPECT_NE(what.find(part), std::string::npos) << "message: " << what << "\nlacks: " << part;
    EXPECT_NE(what.find(path), std::string::npos) << "message does not name the file: " << what;
  } catch (const std::exception &e) {
    ADD_FAILURE() << "wrong exception type for " << path << ": " << e.what();
  }
}

class SafetensorsReader : public ::testing::Test {
 protected:
  // Writes the file and expects a FormatError naming `parts`.
  void refused(const std::string &bytes, const std::vector<std::string> &parts) {
    const std::string path = dir_.file("bad.safetensors");
    write_bytes(path, bytes);
    expect_refused<FormatError>(path, parts);
  }
  TempDir dir_;
};

const std::string k16(16, '\x01');  // data for one I32 [2, 2]

TEST_F(SafetensorsReader, AcceptsAMinimalValidFile) {
  const std::string path = dir_.file("ok.safetensors");
  write_bytes(path, safetensors_bytes(
                        R"({"__metadata__":{"k":"v"},"w":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})", k16));
  const SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].name, "w");
  EXPECT_STREQ(dtype_name(f.tensors()[0].dtype), "I32");
  EXPECT_EQ(f.tensors()[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(f.metadata().at("k"), "v");
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(f.data(f.tensors()[0])), 16), k16);
}

TEST_F(SafetensorsReader, EmptyFileIsTruncated) { refused("", {"truncated", "0 bytes"}); }

TEST_F(SafetensorsReader, TruncatedHeaderLength) { refused(std::string("\x10\x00\x00", 3), {"truncated", "3 bytes"}); }

TEST_F(SafetensorsReader, TruncatedData) {
  // A valid header whose data section lost its second half.
  refused(safetensors_bytes(R"({"w.weight":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})", k16.substr(0, 8)),
          {"'w.weight'", "out of bounds", "8 bytes"});
}

TEST_F(SafetensorsReader, HeaderLengthPastTheEnd) {
  const std::string header = R"({"w":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})";
  refused(safetensors_bytes(header, k16, 4096), {"header length 4096", "past the end"});
  // One byte past the end is enough.
  refused(safetensors_bytes(header, "", header.size() + 1), {"past the end"});
}

TEST_F(SafetensorsReader, HeaderLengthFitsExactly) {
  // Header running to the very end: no data, no tensors. Valid.
  const std::string path = dir_.file("empty.safetensors");
  write_bytes(path, safetensors_bytes("{}", ""));
  EXPECT_TRUE(SafetensorsFile(path).tensors().empty());
}

TEST_F(SafetensorsReader, InvalidJson) {
  refused(safetensors_bytes(R"({"w": {"dtype": "I32", "shape": [2, 2], )", k16), {"not valid JSON"});
  refused(safetensors_bytes("{\"w\": 1}}", ""), {"not valid JSON"});
  // Valid syntax, but a number no type holds: the parser throws out_of_range, not parse_error (a fuzz finding).
  refused(safetensors_bytes(R"({"w.weight": {"dtype": "I32", "shape": [1E400], "data_offsets": [0, 0]}})", ""),
          {"not valid JSON", "number overflow"});
}

TEST_F(SafetensorsReader, HeaderIsNotAnObject) { refused(safetensors_bytes("[1, 2]", ""), {"not a JSON object"}); }

TEST_F(SafetensorsReader, OffsetsOutOfBounds) {
  refused(safetensors_bytes(R"({"w.weight":{"dtype":"I32","shape":[2,4],"data_offsets":[0,32]}})", k16),
          {"'w.weight'", "[0, 32]", "out of bounds", "16 bytes"});
}

TEST_F(SafetensorsReader, OffsetsOverlap) {
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},)"
                            R"("b":{"dtype":"I32","shape":[2,2],"data_offsets":[8,24]}})",
                            std::string(24, '\0')),
          {"'a'", "'b'", "overlap"});
}

TEST_F(SafetensorsReader, OffsetsOverlapIdentically) {
  // Two tensors sharing the same bytes.
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},)"
                            R"("b":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})",
                            k16),
          {"'a'", "'b'", "overlap"});
}

TEST_F(SafetensorsReader, OffsetsWithAHole) {
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},)"
                            R"("b":{"dtype":"I32","shape":[2,2],"data_offsets":[24,40]}})",
                            std::string(40, '\0')),
          {"[16, 24)", "hole", "'b'"});
  // A hole at the start.
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[8,24]}})", std::string(24, '\0')),
          {"[0, 8)", "hole", "'a'"});
}

TEST_F(SafetensorsReader, TrailingBytesBelongToNoTensor) {
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})", k16 + "xyz"),
          {"[16, 19)", "belong to no tensor"});
}

TEST_F(SafetensorsReader, OffsetsRunBackwards) {
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[0],"data_offsets":[16,0]}})", k16), {"'a'", "backwards"});
}

TEST_F(SafetensorsReader, OffsetsNotAPair) {
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0]}})", k16), {"'a'", "data_offsets"});
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[-16,0]}})", k16),
          {"'a'", "data_offsets"});
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2,2]}})", k16), {"'a'", "data_offsets"});
}

TEST_F(SafetensorsReader, ByteLengthDoesNotMatchDtypeTimesShape) {
  refused(safetensors_bytes(R"({"w.weight":{"dtype":"I32","shape":[2,3],"data_offsets":[0,16]}})", k16),
          {"'w.weight'", "byte length 16", "I32", "[2, 3]", "24"});
  refused(safetensors_bytes(R"({"h":{"dtype":"F16","shape":[2,2],"data_offsets":[0,16]}})", k16),
          {"'h'", "byte length 16", "F16", "8"});
}

TEST_F(SafetensorsReader, ShapeWhoseElementCountOverflows) {
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", k16),
          {"'a'", "too many elements"});
}

TEST_F(SafetensorsReader, BadShapes) {
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[-2,-2],"data_offsets":[0,16]}})", k16), {"'a'", "shape"});
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":[2.0,2],"data_offsets":[0,16]}})", k16), {"'a'", "shape"});
  refused(safetensors_bytes(R"({"a":{"dtype":"I32","shape":"2x2","data_offsets":[0,16]}})", k16), {"'a'", "shape"});
}

TEST_F(SafetensorsReader, DuplicateNames) {
  refused(safetensors_bytes(R"({"w.weight":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]},)"
                            R"("w.weight":{"dtype":"I32","shape":[2,2],"data_offsets":[16,32]}})",
                            k16 + k16),
          {"duplicate", "'w.weight'"});
}

// Found by fuzz_safetensors: an empty shape whose partial products leave int64 (2^62 x 2 x 0) was
// accepted, and TensorEntry::elements() then overflowed.
TEST_F(SafetensorsReader, ShapeWhosePartialProductOverflowsIsRefused) {
  refused(
      safetensors_bytes(R"({"a.weight":{"dtype":"I32","shape":[4611686018427387904,2,0],"data_offsets":[0,0]}})", ""),
      {"'a.weight'", "too many elements"});
}

TEST_F(SafetensorsReader, UnknownDtype) {
  refused(safetensors_bytes(R"({"w.weight":{"dtype":"I3","shape":[2,2],"data_offsets":[0,16]}})", k16),
          {"'w.weight'", "unknown dtype", "'I3'"});
  refused(safetensors_bytes(R"({"w":{"dtype":4,"shape":[2,2],"data_offsets":[0,16]}})", k16), {"'w'", "dtype"});
}

TEST_F(SafetensorsReader, HeaderOver100MB) {
  const std::string header = R"({"w":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})";
  refused(safetensors_bytes(header, k16, kMaxHeaderBytes + 1), {"100000001", "100 MB"});
  refused(safetensors_bytes(header, k16, UINT64_MAX - 1), {"100 MB"});
  // Exactly at the limit is allowed as a length, and then simply runs past the end of this small file.
  refused(safetensors_bytes(header, k16, kMaxHeaderBytes), {"past the end"});
}

TEST_F(SafetensorsReader, NonUtf8Name) {
  refused(safetensors_bytes("{\"w\xff.weight\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", k16),
          {"UTF-8"});
  // Overlong encoding and a lone continuation byte too.
  refused(safetensors_bytes("{\"w\xc0\xae\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", k16),
          {"UTF-8"});
  refused(safetensors_bytes("{\"\x80\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", k16), {"UTF-8"});
}

TEST_F(SafetensorsReader, Utf8NamesAreFine) {
  const std::string path = dir_.file("utf8.safetensors");
  const std::string name = "w\xc3\xa9ight\xe2\x82\xac";  // "wéight€"
  write_bytes(path,
              safetensors_bytes("{\"" + name + "\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", k16));
  const SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].name, name);
}

TEST_F(SafetensorsReader, BadMetadata) {
  refused(safetensors_bytes(R"({"__metadata__":{"k":1}})", ""), {"__metadata__", "'k'", "not a string"});
  refused(safetensors_bytes(R"({"__metadata__":["k"]})", ""), {"__metadata__", "not an object"});
}

TEST_F(SafetensorsReader, EntryNotAnObject) {
  refused(safetensors_bytes(R"({"w":[0,16]})", k16), {"'w'", "not an object"});
}

TEST_F(SafetensorsReader, MissingFileIsAnIoError) {
  expect_refused<IoError>(dir_.file("nope.safetensors"), {"cannot open"});
}

TEST_F(SafetensorsReader, DirectoryIsAnIoError) {
  expect_refused<IoError>(dir_.path().string(), {"not a regular file"});
}

TEST(ParseHeader, NamesWhereAndFillsMetadata) {
  const std::string json = R"({"b":{"dtype":"U8","shape":[3],"data_offsets":[4,7]},"__metadata__":{"x":"y"},)"
                           R"("a":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}})";
  std::map<std::string, std::string> metadata;
  const auto tensors = parse_header("here", json.data(), json.size(), 7, &metadata);
  ASSERT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors[0].name, "a");  // data order
  EXPECT_EQ(tensors[1].name, "b");
  EXPECT_EQ(tensors[1].begin, 4u);
  EXPECT_EQ(tensors[1].end, 7u);
  EXPECT_EQ(metadata.at("x"), "y");
  try {
    parse_header("here", json.data(), json.size(), 8, &metadata);
    ADD_FAILURE() << "a trailing byte was accepted";
  } catch (const FormatError &e) {
    EXPECT_EQ(std::string(e.what()).rfind("here: ", 0), 0u) << e.what();
  }
}

TEST(ParseHeader, KeysRepeatedAcrossEntriesAreNotDuplicateNames) {
  // Only top-level keys are tensor names: "dtype", "shape", "data_offsets" in every entry are not duplicates.
  const std::string json =
      R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  std::map<std::string, std::string> metadata;
  EXPECT_EQ(parse_header("here", json.data(), json.size(), 2, &metadata).size(), 2u);
}

// The size of the dtype a name parses to; 0 when the name is not a safetensors dtype.
size_t dtype_size(const std::string &name) {
  const std::optional<Dtype> d = parse_dtype(name);
  return d ? checkpoint::dtype_size(*d) : 0;
}

TEST(DtypeSize, KnownAndUnknown) {
  EXPECT_EQ(dtype_size("I32"), 4u);
  EXPECT_EQ(dtype_size("I16"), 2u);
  EXPECT_EQ(dtype_size("I8"), 1u);
  EXPECT_EQ(dtype_size("U8"), 1u);
  EXPECT_EQ(dtype_size("F16"), 2u);
  EXPECT_EQ(dtype_size("BF16"), 2u);
  EXPECT_EQ(dtype_size("F64"), 8u);
  EXPECT_EQ(dtype_size("i32"), 0u);
  EXPECT_EQ(dtype_size(""), 0u);
}

// ---- the writer ----

OutputTensor bytes_tensor(const std::string &name, const std::string &dtype, std::vector<int64_t> shape,
                          std::string bytes) {
  OutputTensor t;
  t.name = name;
  t.dtype = *parse_dtype(dtype);
  t.shape = std::move(shape);
  t.bytes = bytes.size();
  t.write = [bytes](Sink &sink) { sink.write(bytes.data(), bytes.size()); };
  return t;
}

std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 8)) & 0xFF);
  return s;
}

TEST(SafetensorsWriter, RoundTrips) {
  TempDir dir;
  const std::string path = dir.file("rt.safetensors");
  const std::vector<OutputTensor> tensors = {
      bytes_tensor("z.weight", "I32", {3, 8}, pattern(96, 1)),
      bytes_tensor("a.scales", "F16", {3, 1}, pattern(6, 2)),
      bytes_tensor("m.bias", "U8", {5}, pattern(5, 3)),
      bytes_tensor("big", "I8", {1000, 1000}, pattern(1000000, 4)),  // more than one buffer's worth in total
      bytes_tensor("x", "F64", {}, pattern(8, 5)),                   // a scalar
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"int4pack:z.weight", "{\"a\": 1}"}};
  write_safetensors(path, metadata, tensors);
  const SafetensorsFile f(path);
  EXPECT_EQ(f.metadata(), metadata);
  ASSERT_EQ(f.tensors().size(), tensors.size());
  uint64_t data = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorEntry &t = f.tensors()[i];  // the writer keeps the given order
    EXPECT_EQ(t.name, tensors[i].name);
    EXPECT_EQ(t.dtype, tensors[i].dtype);
    EXPECT_EQ(t.shape, tensors[i].shape);
    EXPECT_EQ(t.bytes(), tensors[i].bytes);
    const TensorEntry *found = f.find(tensors[i].name);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found, &t);
    data += t.bytes();
  }
  EXPECT_EQ(f.find("nope"), nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(f.data(*f.find("big"))), 1000000), pattern(1000000, 4));
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(f.data(*f.find("x"))), 8), pattern(8, 5));
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(f.data(*f.find("z.weight"))), 96), pattern(96, 1));
  EXPECT_EQ(f.tensors()[4].elements(), 1);

  // The header is padded to a multiple of 8 (with spaces, still JSON) and the sizes add up.
  const std::string raw = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(raw.size(), 8 + n + data);
  EXPECT_EQ(f.file_size(), raw.size());
}

TEST(SafetensorsWriter, PadsTheHeaderForEveryLength) {
  TempDir dir;
  for (int extra = 0; extra < 8; ++extra) {
    const std::string path = dir.file("pad" + std::to_string(extra) + ".safetensors");
    write_safetensors(path, {{"k", std::string(static_cast<size_t>(extra), 'v')}},
                      {bytes_tensor("w", "I32", {1}, "abcd")});
    const std::string raw = read_bytes(path);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(raw[i]);
    EXPECT_EQ(n % 8, 0u) << "metadata value of " << extra << " bytes";
    EXPECT_EQ(raw.substr(8 + n), "abcd");
    EXPECT_NO_THROW(SafetensorsFile{path});
  }
}

TEST(SafetensorsWriter, EmptyTensorsAreFine) {
  TempDir dir;
  const std::string path = dir.file("empty.safetensors");
  write_safetensors(path, {},
                    {bytes_tensor("e0.weight", "I32", {0, 4}, ""), bytes_tensor("w", "I32", {2}, "abcdefgh"),
                     bytes_tensor("e1", "F16", {3, 0, 2}, ""), bytes_tensor("e2", "U8", {0}, "")});
  const SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_TRUE(f.metadata().empty());
  const TensorEntry *e0 = f.find("e0.weight");
  ASSERT_NE(e0, nullptr);
  EXPECT_EQ(e0->elements(), 0);
  EXPECT_EQ(e0->bytes(), 0u);
  EXPECT_EQ(e0->shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(f.find("e1")->shape, (std::vector<int64_t>{3, 0, 2}));
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(f.data(*f.find("w"))), 8), "abcdefgh");

  // Hand-written too: an empty tensor at the very end, with begin == end == data size.
  const std::string raw = safetensors_bytes(R"({"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                            R"("e":{"dtype":"I32","shape":[0,8],"data_offsets":[2,2]}})",
                                            "xy");
  write_bytes(dir.file("empty2.safetensors"), raw);
  EXPECT_EQ(SafetensorsFile(dir.file("empty2.safetensors")).tensors().size(), 2u);
}

TEST(SafetensorsWriter, ATensorWritingTheWrongByteCountIsAFormatError) {
  TempDir dir;
  OutputTensor t = bytes_tensor("short.weight", "I32", {2, 2}, std::string(12, 'x'));
  t.bytes = 16;  // claims 16, writes 12
  try {
    write_safetensors(dir.file("short.safetensors"), {}, {t});
    ADD_FAILURE() << "accepted";
  } catch (const FormatError &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'short.weight'"), std::string::npos) << what;
    EXPECT_NE(what.find("12"), std::string::npos) << what;
    EXPECT_NE(what.find("16"), std::string::npos) << what;
  }
}

// Data first, header last: a header shorter than the room reserved for it is padded with spaces, the
// data stays where it was written, and the file reads back like any other. One that outgrew the room is
// an error, never a corrupt file.
TEST(SafetensorsWriter, HeaderWrittenLastIntoReservedRoom) {
  TempDir dir;
  const std::string path = dir.file("late.safetensors");
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  const std::vector<HeaderEntry> planned = {{"a.weight", Dtype::kI32, {2, 2}, 0, 16}, {"b", Dtype::kU8, {3}, 16, 19}};
  const size_t exact = header_text(metadata, planned).size();
  {
    SafetensorsWriter w(path, exact + 100, /*durable=*/false);
    w.add("a.weight", Dtype::kI32, {2, 2}, 16, [](Sink &sink) { sink.write(pattern(16, 1).data(), 16); });
    w.add("b", Dtype::kU8, {3}, 3, [](Sink &sink) { sink.write("xyz", 3); });
    EXPECT_EQ(w.data_bytes(), 19u);
    w.finish(metadata);
  }
  const std::string raw = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ(n, (exact + 100 + 7) / 8 * 8);
  EXPECT_EQ(raw.substr(8, exact), header_text(metadata, planned));
  EXPECT_EQ(raw.substr(8 + exact, n - exact), std::string(n - exact, ' '));
  EXPECT_EQ(raw.substr(8 + n), pattern(16, 1) + "xyz");
  const SafetensorsFile f(path);
  EXPECT_EQ(f.metadata(), metadata);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(f.data(*f.find("b"))), 3), "xyz");

  SafetensorsWriter tight(dir.file("tight.safetensors"), 8);
  tight.add("w", Dtype::kU8, {1}, 1, [](Sink &sink) { sink.write("a", 1); });
  EXPECT_THROW(tight.finish({}), FormatError);
}

// A sink's default copy reads a tensor's bytes with pread (the file sink lets the kernel copy them).
TEST(Sink, DefaultCopyReadsTheTensorBytes) {
  TempDir dir;
  const std::string path = dir.file("src.safetensors");
  write_safetensors(path, {},
                    {bytes_tensor("a", "U8", {5}, "hello"), bytes_tensor("big", "I8", {3000000}, pattern(3000000, 9))});
  struct StringSink : Sink {
    std::string got;
    void write(const void *data, size_t bytes) override { got.append(static_cast<const char *>(data), bytes); }
  };
  const SafetensorsFile f(path);
  for (const char *name : {"a", "big"}) {
    StringSink sink;
    sink.copy(f, *f.find(name));
    EXPECT_EQ(sink.got, std::string(reinterpret_cast<const char *>(f.data(*f.find(name))), f.find(name)->bytes()))
        << name;
  }
  // Copied through a file sink (copy_file_range) by the writer: the same bytes.
  const OutputTensor copy = passthrough_output(f, *f.find("big"));
  write_safetensors(dir.file("copy.safetensors"), {}, {copy}, false);
  const SafetensorsFile g(dir.file("copy.safetensors"));
  EXPECT_EQ(std::string(reinterpret_cast<const char *>(g.data(g.tensors()[0])), 3000000), pattern(3000000, 9));
}

// verify's comparison: pread in 4 MiB chunks, so differences sit on both sides of a chunk boundary.
TEST(FirstDifference, FindsTheFirstDifferingByteAcrossChunks) {
  TempDir dir;
  const int64_t n = (int64_t{9} << 20) + 5;
  const std::string data = pattern(static_cast<size_t>(n), 3);
  write_safetensors(dir.file("a.safetensors"), {},
                    {bytes_tensor("empty", "U8", {0}, ""), bytes_tensor("t", "U8", {n}, data)});
  const SafetensorsFile a(dir.file("a.safetensors"));
  const TensorEntry &t = *a.find("t");
  EXPECT_EQ(first_difference(a, *a.find("empty"), nullptr), 0u);
  EXPECT_EQ(first_difference(a, t, reinterpret_cast<const uint8_t *>(data.data())), static_cast<uint64_t>(n));
  EXPECT_EQ(first_difference(a, t, a, t), static_cast<uint64_t>(n));
  for (int64_t at : {int64_t{0}, (int64_t{4} << 20) - 1, int64_t{4} << 20, int64_t{6} << 20, n - 1}) {
    std::string changed = data;
    changed[static_cast<size_t>(at)] ^= 1;
    changed[static_cast<size_t>(n - 1)] ^= 2;  // a later difference too: the first one is reported
    EXPECT_EQ(first_difference(a, t, reinterpret_cast<const uint8_t *>(changed.data())), static_cast<uint64_t>(at));
    write_safetensors(dir.file("b.safetensors"), {}, {bytes_tensor("t", "U8", {n}, changed)});
    const SafetensorsFile b(dir.file("b.safetensors"));
    EXPECT_EQ(first_difference(a, t, b, *b.find("t")), static_cast<uint64_t>(at));
  }
}

TEST(SafetensorsWriter, AnUnwritablePathIsAnIoError) {
  TempDir dir;
  EXPECT_THROW(write_safetensors(dir.file("no/such/dir/x.safetensors"), {}, {bytes_tensor("w", "U8", {1}, "a")}),
               IoError);
}

// The room reserved for a converted file's header holds the real header whichever candidates end up
// packed: every subset of them, for every output form, with tensors whose packed form is longer (NZ
// padding) or shorter, and offsets that cross a power of ten either way.
TEST(PackedHeaderRoom, HoldsTheHeaderOfEverySubsetOfCandidates) {
  TempDir dir;
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"int4pack.version", "1"}};
  std::vector<PackOptions> forms(4);
  forms[1].layout = Layout::kNz;
  forms[2].layout = Layout::kNz;
  forms[2].int32_words = true;
  forms[3].transpose = true;
  forms[3].input = InputEncoding::kOffset8;
  const auto check = [&](const std::string &name, const std::vector<OutputTensor> &tensors,
                         const std::vector<bool> &may_pack) {
    SCOPED_TRACE(name);
    write_safetensors(dir.file(name), {{"format", "pt"}}, tensors);
    const SafetensorsFile f(dir.file(name));
    const size_t candidates = static_cast<size_t>(std::count(may_pack.begin(), may_pack.end(), true));
    for (const PackOptions &o : forms) {
      const uint64_t room = packed_header_room(f, may_pack, o, metadata);
      for (unsigned subset = 0; subset < (1u << candidates); ++subset) {
        std::map<std::string, std::string> meta = metadata;
        std::vector<HeaderEntry> entries;
        uint64_t offset = 0;
        unsigned bit = 0;
        for (size_t i = 0; i < f.tensors().size(); ++i) {
          const TensorEntry &t = f.tensors()[i];
          const bool packed = may_pack[i] && ((subset >> bit++) & 1u);
          if (packed) {
            const CarrierLayer layer(f, t, o);
            const PackedStorage out = packed_storage(layer.matrix(), o);
            meta[kMetadataPrefix + t.name] = encode_record(record_of(layer, o));
            entries.push_back({t.name, out.dtype, out.shape, offset, offset + out.bytes});
            offset += out.bytes;
          } else {
            entries.push_back({t.name, t.dtype, t.shape, offset, offset + t.bytes()});
            offset += t.bytes();
          }
        }
        EXPECT_LE(header_text(meta, entries).size(), room) << "subset " << subset;
      }
    }
  };
  check("several.safetensors",
        {bytes_tensor("a.weight", "I32", {16, 128}, pattern(16 * 128 * 4, 1)),
         bytes_tensor("b.weight", "U8", {2, 2}, pattern(4, 2)),
         bytes_tensor("a.rather.long.name.for.the.scales.of.layer.zero", "F16", {16, 1}, pattern(32, 3)),
         // Sized so that the unpacked data ends at 999,800 bytes: packed NZ pads past 10^6.
         bytes_tensor("c.weight", "I8", {2, 495762}, pattern(991524, 4)),
         bytes_tensor("d.weight", "I16", {3, 8}, pattern(48, 5))},
        {true, true, false, true, true});
  // One small tensor whose NZ form is far larger (4 bytes -> 512): its end offset gains digits.
  check("one.safetensors", {bytes_tensor("b.weight", "U8", {2, 2}, pattern(4, 2))}, {true});
}

// ---- checkpoints (directories and their index) ----

class CheckpointDir : public ::testing::Test {
 protected:
  void SetUp() override {
    write_safetensors(dir_.file("a.safetensors"), {}, {bytes_tensor("x.weight", "U8", {2}, "ab")});
    write_safetensors(dir_.file("b.safetensors"), {}, {bytes_tensor("y.weight", "U8", {2}, "cd")});
  }
  void index(const std::string &text) { write_bytes(dir_.file("model.safetensors.index.json"), text); }
  void expect_format_error(const std::string &part) {
    try {
      open_checkpoint(dir_.path().string());
      ADD_FAILURE() << "accepted; expected '" << part << "'";
    } catch (const FormatError &e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  }
  TempDir dir_;
};

TEST_F(CheckpointDir, OpensAnIndexedDirectory) {
  index(R"({"metadata":{"total_size":4},"weight_map":{"x.weight":"a.safetensors","y.weight":"b.safetensors"}})");
  write_bytes(dir_.file("config.json"), "{}");
  const Checkpoint c = open_checkpoint(dir_.path().string());
  EXPECT_TRUE(c.is_directory);
  EXPECT_EQ(c.index_name, "model.safetensors.index.json");
  EXPECT_EQ(c.shard_names, (std::vector<std::string>{"a.safetensors", "b.safetensors"}));
  EXPECT_EQ(c.other_files, (std::vector<std::string>{"config.json"}));
  EXPECT_EQ(c.tensor_count(), 2u);
}

TEST_F(CheckpointDir, ShardsWithoutAnIndexAreRefused) { expect_format_error("no *.safetensors.index.json"); }

TEST_F(CheckpointDir, IndexThatIsNotJson) {
  index("{\"weight_map\": ");
  expect_format_error("not valid JSON");
}

TEST_F(CheckpointDir, IndexWithANumberTooLargeForAnyType) {
  index(R"({"metadata": {"total_size": 2222222222222222E222222222222}, "weight_map": {}})");
  expect_format_error("number overflow");
}

TEST_F(CheckpointDir, IndexPointingOutsideTheDirectory) {
  index(R"({"weight_map":{"x.weight":"../a.safetensors","y.weight":"b.safetensors"}})");
  expect_format_error("'x.weight' is not a file name in the directory");
}

TEST_F(CheckpointDir, IndexMissingATensorOfAShard) {
  write_safetensors(dir_.file("b.safetensors"), {},
                    {bytes_tensor("y.weight", "U8", {2}, "cd"), bytes_tensor("y2.weight", "U8", {2}, "ef")});
  index(R"({"weight_map":{"x.weight":"a.safetensors","y.weight":"b.safetensors"}})");
  expect_format_error("'y2.weight' of b.safetensors is not in the weight_map");
}

TEST_F(CheckpointDir, IndexMappingATensorToTheWrongShard) {
  index(R"({"weight_map":{"x.weight":"a.safetensors","y.weight":"a.safetensors"}})");
  expect_format_error("'y.weight'");
}

TEST_F(CheckpointDir, AStraySafetensorsFileIsAnOtherFile) {
  // b.safetensors is in no weight_map: copied as it is, not read as a shard.
  index(R"({"weight_map":{"x.weight":"a.safetensors"}})");
  const Checkpoint c = open_checkpoint(dir_.path().string());
  EXPECT_EQ(c.shard_names, (std::vector<std::string>{"a.safetensors"}));
  EXPECT_EQ(c.other_files, (std::vector<std::string>{"b.safetensors"}));
}

TEST_F(CheckpointDir, TwoIndexesAreRefused) {
  index(R"({"weight_map":{"x.weight":"a.safetensors","y.weight":"b.safetensors"}})");
  write_bytes(dir_.file("other.safetensors.index.json"), "{}");
  expect_format_error("more than one");
}

TEST_F(CheckpointDir, IndexListingATensorNoShardHas) {
  index(R"({"weight_map":{"x.weight":"a.safetensors","y.weight":"b.safetensors","z.weight":"b.safetensors"}})");
  expect_format_error("'z.weight'");
}

TEST_F(CheckpointDir, ABadShardIsNamed) {
  index(R"({"weight_map":{"x.weight":"a.safetensors","y.weight":"b.safetensors"}})");
  write_bytes(dir_.file("b.safetensors"), "xx");
  expect_format_error("b.safetensors: truncated");
}

TEST(Checkpoint, RewriteIndexSetsTotalSize) {
  const std::string out = rewrite_index(R"({"metadata":{"total_size":4,"k":"v"},"weight_map":{"x":"a"}})", 123);
  EXPECT_NE(out.find("\"total_size\": 123"), std::string::npos) << out;
  EXPECT_NE(out.find("\"k\": \"v\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"x\": \"a\""), std::string::npos) << out;
}

// ---- choosing and checking int4 weights at the edges of each carrier's range ----

template <typename T>
OutputTensor carrier(const std::string &name, const std::string &dtype, std::vector<T> values, int64_t cols) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes_tensor(name, dtype, {static_cast<int64_t>(values.size()) / cols, cols}, bytes);
}

class CarrierRange : public ::testing::Test {
 protected:
  // Writes the tensors, then reports for each: (default selection, problems of check_tensor).
  void load(const std::vector<OutputTensor> &tensors) {
    write_safetensors(dir_.file("c.safetensors"), {}, tensors);
    file_ = std::make_unique<SafetensorsFile>(dir_.file("c.safetensors"));
  }
  bool chosen(const std::string &name, InputEncoding e) {
    return looks_like_int4_weight(*file_, *file_->find(name), e);
  }
  std::vector<std::string> problems(const std::string &name, InputEncoding e) {
    PackOptions o;
    o.input = e;
    return check_tensor(*file_, *file_->find(name), o);
  }
  TempDir dir_;
  std::unique_ptr<SafetensorsFile> file_;
};

TEST_F(CarrierRange, SignedEdges) {
  load({carrier<int32_t>("i32.weight", "I32", {-8, 7, 0, -1}, 2), carrier<int32_t>("i32hi.weight", "I32", {-8, 8}, 2),
        carrier<int32_t>("i32lo.weight", "I32", {-9, 7}, 2), carrier<int16_t>("i16.weight", "I16", {-8, 7}, 2),
        carrier<int16_t>("i16x.weight", "I16", {32767, -32768}, 2), carrier<int8_t>("i8.weight", "I8", {-8, 7}, 2),
        carrier<int8_t>("i8x.weight", "I8", {127, -128}, 2), carrier<uint8_t>("u8.weight", "U8", {0, 7}, 2),
        carrier<uint8_t>("u8x.weight", "U8", {8, 0}, 2), carrier<uint8_t>("u8ff.weight", "U8", {255, 0}, 2),
        carrier<int32_t>("i32min.weight", "I32", {0, INT32_MIN}, 2), carrier<int32_t>("scales", "I32", {0, 0}, 2)});
  const auto s = InputEncoding::kSigned;
  for (const char *name : {"i32.weight", "i16.weight", "i8.weight", "u8.weight"}) {
    EXPECT_TRUE(chosen(name, s)) << name;
    EXPECT_TRUE(problems(name, s).empty()) << name;
  }
  for (const char *name :
       {"i32hi.weight", "i32lo.weight", "i16x.weight", "i8x.weight", "u8x.weight", "u8ff.weight", "i32min.weight"}) {
    EXPECT_FALSE(chosen(name, s)) << name;
    EXPECT_FALSE(problems(name, s).empty()) << name;
  }
  EXPECT_FALSE(chosen("scales", s)) << "not named ...weight";
  const auto p = problems("i32hi.weight", s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("'i32hi.weight': element [0, 1] = 8 is outside [-8, 7]"), std::string::npos) << p[0];
  EXPECT_NE(problems("u8ff.weight", s)[0].find("element [0, 0] = 255"), std::string::npos);  // not -1
  EXPECT_NE(problems("i32min.weight", s)[0].find("element [0, 1] = -2147483648"), std::string::npos);
}

TEST_F(CarrierRange, Offset8Edges) {
  load({carrier<int32_t>("i32.weight", "I32", {0, 15}, 2), carrier<int32_t>("i32hi.weight", "I32", {0, 16}, 2),
        carrier<int32_t>("i32neg.weight", "I32", {-1, 0}, 2), carrier<int16_t>("i16.weight", "I16", {15, 0}, 2),
        carrier<int8_t>("i8neg.weight", "I8", {-1, 0}, 2), carrier<uint8_t>("u8.weight", "U8", {15, 0}, 2),
        carrier<uint8_t>("u8x.weight", "U8", {16, 0}, 2), carrier<int32_t>("i32max.weight", "I32", {INT32_MAX, 0}, 2)});
  const auto e = InputEncoding::kOffset8;
  for (const char *name : {"i32.weight", "i16.weight", "u8.weight"}) {
    EXPECT_TRUE(chosen(name, e)) << name;
    EXPECT_TRUE(problems(name, e).empty()) << name;
  }
  for (const char *name : {"i32hi.weight", "i32neg.weight", "i8neg.weight", "u8x.weight", "i32max.weight"}) {
    EXPECT_FALSE(chosen(name, e)) << name;
    EXPECT_FALSE(problems(name, e).empty()) << name;
  }
  EXPECT_NE(problems("i32neg.weight", e)[0].find("element [0, 0] = -1 is outside [0, 15]"), std::string::npos);
}

TEST_F(CarrierRange, SignedI32NearIntMax) {
  // Regression: the range check once subtracted in int32 and overflowed here (UBSan aborted).
  load({carrier<int32_t>("max.weight", "I32", {INT32_MAX, 0}, 2),
        carrier<int32_t>("max7.weight", "I32", {INT32_MAX - 7, 0}, 2)});
  for (const char *name : {"max.weight", "max7.weight"}) {
    EXPECT_FALSE(chosen(name, InputEncoding::kSigned)) << name;
    EXPECT_FALSE(problems(name, InputEncoding::kSigned).empty()) << name;
  }
}

TEST_F(CarrierRange, LargeTensorsAreCheckedInFull) {
  // Enough values to be split over threads; one bad value near the end.
  std::vector<int8_t> values(1 << 20, 3);
  values[values.size() - 5] = 8;
  load({carrier<int8_t>("big.weight", "I8", values, 1024)});
  EXPECT_FALSE(chosen("big.weight", InputEncoding::kSigned));
  const auto p = problems("big.weight", InputEncoding::kSigned);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("element [1023, 1019] = 8"), std::string::npos) << p[0];
}

// `text` with its first `from` replaced by `to`.
std::string replaced(std::string text, const std::string &from, const std::string &to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from << " not in " << text;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

TEST(PackedRecordCodec, RoundTripsAndRefusesNonsense) {
  PackedRecord r;
  r.options.layout = Layout::kNz;
  r.options.int32_words = true;
  r.view_shape = {16, 64};
  r.original_dtype = Dtype::kI8;
  r.original_shape = {64, 16};
  r.options.transpose = true;
  r.options.input = InputEncoding::kOffset8;
  const std::string text = encode_record(r);
  EXPECT_NE(text.find(R"("format":"nz")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("dtype":"int32")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("original_dtype":"I8")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("input":"offset8")"), std::string::npos) << text;
  const PackedRecord back = decode_record("here", text);
  EXPECT_EQ(back.options.layout, Layout::kNz);
  EXPECT_TRUE(back.options.int32_words);
  EXPECT_EQ(back.view_shape, r.view_shape);
  EXPECT_EQ(back.original_dtype, Dtype::kI8);
  EXPECT_EQ(back.original_shape, r.original_shape);
  EXPECT_TRUE(back.options.transpose);
  EXPECT_EQ(back.options.input, InputEncoding::kOffset8);
  EXPECT_THROW(decode_record("here", "not json"), FormatError);
  EXPECT_THROW(decode_record("here", R"({"format":"nd"})"), FormatError);
  EXPECT_THROW(decode_record("here", replaced(text, R"("format":"nz")", R"("format":"zz")")), FormatError);
  EXPECT_THROW(decode_record("here", replaced(text, R"("original_dtype":"I8")", R"("original_dtype":"F16")")),
               FormatError);
  // not the transpose of view_shape
  EXPECT_THROW(decode_record("here", replaced(text, R"("original_shape":[64,16])", R"("original_shape":[16,64])")),
               FormatError);
}

}  // namespace
}  // namespace int4pack::checkpoint
