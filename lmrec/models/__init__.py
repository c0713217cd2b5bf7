"""Recommender models under one contract (`lmrec.models.base.Recommender`)."""

from __future__ import annotations

from lmrec.models.registry import create_model, load_model, model_class, model_names, register

register("popularity", "lmrec.models.popularity:Popularity")
register("itemknn", "lmrec.models.knn:ItemKNN")
register("ease", "lmrec.models.ease:EASE")
register("als", "lmrec.models.mf:ALS")
register("bpr", "lmrec.models.mf:BPR")
register("content", "lmrec.models.content:ContentModel")
register("sasrec", "lmrec.models.sequential.model:SASRec")

__all__ = ["create_model", "load_model", "model_class", "model_names", "register"]
