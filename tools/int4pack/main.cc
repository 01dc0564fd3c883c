// int4pack: pack the int4 weights of safetensors checkpoints for Ascend (ND or FRACTAL_NZ), offline.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "commands.h"
#include "session.h"

int main(int argc, char **argv) {
  using namespace int4pack;
  CLI::App app{
      "int4pack: pack int4 weights of safetensors checkpoints for Ascend (CANN's aclnnConvertWeightToINT4Pack, "
      "offline)"};
  app.require_subcommand(1);
  tool::Common common;
  const auto add_common = [&common](CLI::App *sub, bool writes) {
    sub->add_flag("--quiet,-q", common.quiet, "no progress bar and no summary");
    sub->add_flag("--json", common.json, "print a machine-readable summary on stdout");
    sub->add_option("--threads", common.threads, "threads for packing (default: all CPUs)")->check(CLI::Range(1, 1024));
    if (writes) {
      sub->add_flag("--force", common.force, "replace OUT if it exists");
      sub->add_flag_callback(
          "--no-sync", [&common] { common.sync = false; },
          "rename OUT into place without first waiting for it to reach the disk (faster; a power "
          "failure soon after may then leave it incomplete)");
    }
  };

  checkpoint::ConvertRequest request;
  std::string format = "nd", dtype = "int4", input_encoding = "signed", from = "auto", act_dtype;
  CLI::App *convert = app.add_subcommand("convert", "pack a .safetensors file or a sharded checkpoint directory");
  convert->add_option("IN", request.input, "input .safetensors file or checkpoint directory")->required();
  convert->add_option("OUT", request.output, "output file or directory (same structure as IN)")->required();
  convert
      ->add_option("--from", from,
                   "what IN is: auto (from its config files), carrier, compressed-tensors, gptq, awq, msmodelslim")
      ->check(CLI::IsMember({"auto", "carrier", "compressed-tensors", "gptq", "awq", "msmodelslim"}));
  convert
      ->add_option("--format", format,
                   "nd (row-major), nz (FRACTAL_NZ), or auto (quantized layers: nz where the operator takes it)")
      ->check(CLI::IsMember({"nd", "nz", "auto"}));
  convert
      ->add_option("--act-dtype", act_dtype,
                   "quantized layers: the activation dtype, which the scales and offsets are written in "
                   "(default: config.json's torch_dtype)")
      ->check(CLI::IsMember({"float16", "bfloat16"}));
  convert->add_option("--dtype", dtype, "int4 (stored U8, 2 per byte) or int32 (8 per word)")
      ->check(CLI::IsMember({"int4", "int32"}));
  convert->add_option("--include", request.include, "pack the tensors whose name matches REGEX");
  convert->add_option("--exclude", request.exclude, "never pack the tensors whose name matches REGEX");
  convert->add_flag("--transpose", request.options.transpose,
                    "pack the transposed matrix: (k, n) from a stored (n, k)");
  convert->add_option("--input", input_encoding, "signed [-8, 7], or offset8: unsigned [0, 15] with zero point 8")
      ->check(CLI::IsMember({"signed", "offset8"}));
  add_common(convert, true);

  std::string first, second;
  CLI::App *unpack = app.add_subcommand("unpack", "turn an int4pack output back into the original carriers");
  unpack->add_option("PACKED", first, "packed file or directory")->required();
  unpack->add_option("OUT", second, "output file or directory")->required();
  add_common(unpack, true);

  CLI::App *verify = app.add_subcommand("verify", "re-derive every packed tensor from ORIGINAL and compare bytes");
  verify->add_option("ORIGINAL", first, "original file or directory")->required();
  verify->add_option("PACKED", second, "packed file or directory")->required();
  bool matmul = false;
  verify->add_flag("--matmul", matmul,
                   "also multiply every converted quantized layer by a random x with aclnnWeightQuantBatchMatmulV2 "
                   "and compare with the original's own dequantization (double precision)");
  add_common(verify, false);

  CLI::App *inspect = app.add_subcommand("inspect", "list the tensors of a file or checkpoint directory");
  inspect->add_option("PATH", first, "file or directory")->required();
  inspect->add_flag("--json", common.json, "machine-readable output");

  CLI::App *demo = app.add_subcommand("demo", "write a small synthetic W4 checkpoint, convert it, verify it");
  demo->add_option("--dir", first, "where to put it (default: a new directory under $TMPDIR or /tmp)");
  add_common(demo, false);

  CLI11_PARSE(app, argc, argv);
  request.options.layout = format == "nz" ? Layout::kNz : Layout::kNd;
  request.auto_layout = format == "auto";
  if (from != "auto") request.from = checkpoint::parse_source_format(from);
  if (!act_dtype.empty())
    request.act_dtype = act_dtype == "bfloat16" ? checkpoint::Dtype::kBF16 : checkpoint::Dtype::kF16;
  request.options.int32_words = dtype == "int32";
  request.options.input =
      input_encoding == "offset8" ? checkpoint::InputEncoding::kOffset8 : checkpoint::InputEncoding::kSigned;

  tool::install_signal_handlers();
  try {
    if (*convert) return tool::convert(request, common);
    if (*unpack) return tool::unpack(first, second, common);
    if (*verify) return tool::verify(first, second, common, matmul);
    if (*inspect) return tool::inspect(first, common);
    if (*demo) return tool::demo(first, common);
  } catch (const tool::Interrupted &e) {
    std::fprintf(stderr, "\nint4pack: interrupted; no output was left behind\n");
    return 128 + e.signal;
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "int4pack: out of memory\n");
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "int4pack: %s\n", e.what());
    return 1;
  }
  return 2;
}
