#include "checkpoint/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace int4pack::checkpoint {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

bool ends_with(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string read_text(const fs::path &p, uint64_t limit) {
  std::error_code ec;
  const uint64_t size = fs::file_size(p, ec);
  if (ec) throw IoError(p.string() + ": cannot read: " + ec.message());
  if (size > limit) throw FormatError(p.string() + ": " + std::to_string(size) + " bytes, over the 100 MB limit");
  std::ifstream in(p, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) throw IoError(p.string() + ": cannot read");
  return text.str();
}

// A shard name from an index must stay inside the checkpoint directory.
bool plain_file_name(const std::string &name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != ".." &&
         name.find('\0') == std::string::npos;
}

}  // namespace

uint64_t Checkpoint::total_bytes() const {
  uint64_t n = 0;
  for (const auto &s : shards) n += s->file_size();
  return n;
}

uint64_t Checkpoint::tensor_count() const {
  uint64_t n = 0;
  for (const auto &s : shards) n += s->tensors().size();
  return n;
}

Checkpoint open_checkpoint(const std::string &path) {
  Checkpoint c;
  c.path = path;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw IoError(path + ": no such file or directory");
  if (!fs::is_directory(status)) {
    c.shard_names.push_back(fs::path(path).filename().string());
    c.shards.push_back(std::make_unique<SafetensorsFile>(path));
    return c;
  }
  c.is_directory = true;
  std::vector<std::string> indexes;
  std::vector<std::string> safetensors;
  for (const fs::directory_entry &e : fs::directory_iterator(path, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file()) {
      c.other_files.push_back(name);  // subdirectories (e.g. original/) and links: copied as they are
      continue;
    }
    if (ends_with(name, ".safetensors.index.json")) {
      indexes.push_back(name);
    } else if (ends_with(name, ".safetensors")) {
      safetensors.push_back(name);
    } else {
      c.other_files.push_back(name);
    }
  }
  if (ec) throw IoError(path + ": cannot list: " + ec.message());
  std::sort(indexes.begin(), indexes.end());
  std::sort(safetensors.begin(), safetensors.end());
  std::sort(c.other_files.begin(), c.other_files.end());
  if (indexes.size() > 1) throw FormatError(path + ": more than one *.safetensors.index.json");

  if (indexes.empty()) {
    if (safetensors.empty()) throw FormatError(path + ": no .safetensors file in the directory");
    if (safetensors.size() > 1) {
      throw FormatError(path + ": several .safetensors files but no *.safetensors.index.json that ties them");
    }
    c.shard_names = safetensors;
  } else {
    c.index_name = indexes[0];
    const std::string where = (fs::path(path) / c.index_name).string();
    c.index_text = read_text(fs::path(path) / c.index_name, kMaxHeaderBytes);
    Json index;
    try {
      index = Json::parse(c.index_text);
    } catch (const Json::exception &e) {
      throw FormatError(where + ": not valid JSON: " + json_refusal(e));
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw FormatError(where + ": no \"weight_map\" object");
    }
    std::map<std::string, std::string> weight_map;
    std::set<std::string> names;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string() || !plain_file_name(it.value().get<std::string>())) {
        throw FormatError(where + ": weight_map entry of '" + it.key() + "' is not a file name in the directory");
      }
      weight_map[it.key()] = it.value().get<std::string>();
      names.insert(it.value().get<std::string>());
    }
    c.shard_names.assign(names.begin(), names.end());
    for (const std::string &s : safetensors) {
      if (!names.count(s)) c.other_files.push_back(s);  // a stray .safetensors: copied, not converted
    }
    for (const std::string &name : c.shard_names) {
      c.shards.push_back(std::make_unique<SafetensorsFile>((fs::path(path) / name).string()));
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < c.shards.size(); ++i) {
      for (const TensorEntry &t : c.shards[i]->tensors()) {
        auto it = weight_map.find(t.name);
        if (it == weight_map.end() || it->second != c.shard_names[i]) {
          throw FormatError(where + ": tensor '" + t.name + "' of " + c.shard_names[i] +
                            (it == weight_map.end() ? " is not in the weight_map" : " is mapped to " + it->second));
        }
        if (!seen.insert(t.name).second) throw FormatError(path + ": tensor '" + t.name + "' is in two shards");
      }
    }
    for (const auto &[name, shard] : weight_map) {
      if (!seen.count(name)) throw FormatError(where + ": weight_map lists '" + name + "', which " + shard + " lacks");
    }
    std::sort(c.other_files.begin(), c.other_files.end());
    return c;
  }
  for (const std::string &name : c.shard_names) {
    c.shards.push_back(std::make_unique<SafetensorsFile>((fs::path(path) / name).string()));
  }
  return c;
}

void write_directory_rest(const Checkpoint &in, const std::string &staging, uint64_t tensor_bytes, Observer &observer,
                          const IndexChanges *changes) {
  if (!in.is_directory) return;
  if (!in.index_name.empty()) {
    const std::string index = rewrite_index(in.index_text, tensor_bytes, changes);
    const std::string path = (fs::path(staging) / in.index_name).string();
    std::FILE *f = std::fopen(path.c_str(), "wb");
    const bool ok = f != nullptr && std::fwrite(index.data(), 1, index.size(), f) == index.size();
    if (f != nullptr && std::fclose(f) != 0) throw IoError(path + ": cannot write");
    if (!ok) throw IoError(path + ": cannot write");
  }
  for (const std::string &name : in.other_files) {
    observer.check();
    std::error_code ec;
    fs::copy(fs::path(in.path) / name, fs::path(staging) / name,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) throw IoError((fs::path(in.path) / name).string() + ": cannot copy: " + ec.message());
  }
}

std::string shard_output_path(const Checkpoint &in, const std::string &staging, size_t s) {
  return in.is_directory ? (fs::path(staging) / in.shard_names[s]).string() : staging;
}

std::string rewrite_index(const std::string &index_text, uint64_t total_size, const IndexChanges *changes) {
  Json index = Json::parse(index_text);
  if (!index.contains("metadata") || !index["metadata"].is_object()) index["metadata"] = Json::object();
  index["metadata"]["total_size"] = total_size;
  if (changes != nullptr) {
    Json &map = index["weight_map"];
    for (const std::string &name : changes->removed) map.erase(name);
    for (const auto &[name, shard] : changes->added) map[name] = shard;
  }
  return index.dump(2) + "\n";
}

}  // namespace int4pack::checkpoint
