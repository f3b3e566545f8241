"""Built-in architectures and safe model loading/saving."""
from .architectures import ARCHITECTURES, BassetCNN, BPNet, build_model
from .files import LoadedModel, load_model, save_model

__all__ = ["ARCHITECTURES", "BassetCNN", "BPNet", "LoadedModel", "build_model", "load_model", "save_model"]
