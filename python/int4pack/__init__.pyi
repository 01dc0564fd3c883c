from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

ArrayLike = Any  # a numpy array or a torch CPU tensor

__version__: str

def isa() -> str: ...
def num_threads() -> int: ...
def pack(weight: ArrayLike, format: str = ..., dtype: str = ..., check: bool = ...) -> ArrayLike: ...
def unpack(packed: ArrayLike, shape: Sequence[int], format: str = ...) -> ArrayLike: ...
def convert_weight_to_int4pack(weight: ArrayLike) -> ArrayLike: ...
def weight_quant_batchmatmul(
    x: ArrayLike,
    weight: ArrayLike,
    antiquant_scale: ArrayLike,
    antiquant_offset: Optional[ArrayLike] = ...,
    bias: Optional[ArrayLike] = ...,
    antiquant_group_size: int = ...,
    *,
    weight_format: str = ...,
    weight_transposed: bool = ...,
    n: Optional[int] = ...,
) -> ArrayLike: ...
def convert_checkpoint(
    src: Union[str, Any],
    dst: Union[str, Any],
    *,
    from_format: str = ...,
    format: str = ...,
    dtype: str = ...,
    act_dtype: Optional[str] = ...,
    include: str = ...,
    exclude: str = ...,
    force: bool = ...,
    sync: bool = ...,
    progress: Optional[Callable[[int, int], None]] = ...,
) -> dict: ...
def verify_checkpoint(original: Union[str, Any], converted: Union[str, Any], matmul: bool = ...) -> dict: ...
def inspect_checkpoint(path: Union[str, Any]) -> dict: ...
