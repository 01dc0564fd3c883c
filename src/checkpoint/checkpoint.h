// A checkpoint: one .safetensors file, or a directory with a sharded model (an *.safetensors.index.json
// whose weight_map names the shard of every tensor) plus other files (config, tokenizer).
#ifndef INT4PACK_CHECKPOINT_CHECKPOINT_H_
#define INT4PACK_CHECKPOINT_CHECKPOINT_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "checkpoint/output.h"
#include "checkpoint/safetensors_reader.h"

namespace int4pack::checkpoint {

struct Checkpoint {
  std::string path;  // as given
  bool is_directory = false;
  std::string index_name;                // "model.safetensors.index.json", or "" for a single file / unindexed dir
  std::string index_text;                // the index JSON as read
  std::vector<std::string> shard_names;  // file names inside the directory (or the file's name)
  std::vector<std::unique_ptr<SafetensorsFile>> shards;  // same order
  std::vector<std::string> other_files;  // everything else in the directory (files, subdirectories), copied verbatim

  uint64_t total_bytes() const;  // of every shard
  uint64_t tensor_count() const;
};

// Opens and validates a checkpoint: every shard (see SafetensorsFile), and for an index: a JSON object
// whose weight_map maps each tensor to a plain file name in the directory, listing every tensor of every
// shard exactly once.
Checkpoint open_checkpoint(const std::string &path);

// How an output's tensors differ from its input's by name: removed, and added (name -> shard file name).
struct IndexChanges {
  std::set<std::string> removed;
  std::map<std::string, std::string> added;
};

// The index for an output checkpoint: the input's, with metadata.total_size set to total_size and the
// weight_map changed as `changes` says.
std::string rewrite_index(const std::string &index_text, uint64_t total_size, const IndexChanges *changes = nullptr);

// The rest of an output checkpoint directory beside its shards: the index, rewritten for `tensor_bytes`
// of tensor data (and `changes`), and the other files (config, tokenizer), copied. Nothing for a single file.
void write_directory_rest(const Checkpoint &in, const std::string &staging, uint64_t tensor_bytes, Observer &observer,
                          const IndexChanges *changes = nullptr);

// Where shard s of `in` goes when the output is written at `staging` (a file, or a directory).
std::string shard_output_path(const Checkpoint &in, const std::string &staging, size_t s);

}  // namespace int4pack::checkpoint

#endif  // INT4PACK_CHECKPOINT_CHECKPOINT_H_
