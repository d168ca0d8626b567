"""Framework integrations: one line versions a training run of Hugging Face transformers, Lightning, Keras,
XGBoost or LightGBM.

Each framework has its own module, imported only when the user imports it (``import modelver`` loads none of
them, nor any framework): :mod:`.xgboost`, :mod:`.lightgbm`, :mod:`.keras`, :mod:`.transformers` (each with a
``ModelverCallback``) and :mod:`.lightning` (``ModelverLogger``). :mod:`.binding` holds what they share: joining
the open ``track()`` run or opening one, and turning every failure of the integration into a capture error.

May import: :mod:`modelver.tracking` and everything below it.
"""
