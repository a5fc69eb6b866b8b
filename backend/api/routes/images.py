"""Images: upload (queues the encoding), status with the z_dis chunks, the stored files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query
from fastapi.responses import FileResponse

from backend.api.deps import OwnerDep, ServicesDep, SignerDep
from backend.api.errors import error_responses
from backend.api.schemas import ImageList, ImageOut, ImageUpload
from backend.api.services import add_image, image_out, owned_image
from backend.api.uploads import FORMATS

router = APIRouter(prefix="/api/images", tags=["images"])


@router.post("", status_code=202, response_model=ImageOut, responses=error_responses(400, 413, 415))
def upload_image(s: ServicesDep, owner: OwnerDep, sign: SignerDep,
                 form: Annotated[ImageUpload, File()]) -> ImageOut:
    """Store an image and queue its encoding to z_dis and x_T. The id is the SHA-256 of the bytes:
    the same bytes again give the same id and are not encoded twice."""
    data = form.file.file.read(s.settings.max_upload_bytes + 1)  # add_image refuses more than the limit with 413
    image_id, _ = add_image(s, owner, data, form.file.filename)
    return image_out(image_id, s.records.get(s.records.image_key(image_id)), *s.records.image_names(owner, [image_id]), sign=sign)


@router.get("", response_model=ImageList)
def list_images(s: ServicesDep, owner: OwnerDep, sign: SignerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> ImageList:
    """The caller's images, newest first."""
    ids = s.records.owned_images(owner, limit)
    recs = s.records.get_many(s.records.image_key(i) for i in ids)
    names = s.records.image_names(owner, ids)
    return ImageList(images=[image_out(i, r, n, sign=sign) for i, r, n in zip(ids, recs, names)])


@router.get("/{image_id}", response_model=ImageOut)
def get_image(s: ServicesDep, owner: OwnerDep, sign: SignerDep, image_id: str) -> ImageOut:
    """Status (queued / encoding / ready / failed), encoding progress, and when ready the z_dis chunks."""
    owned_image(s, owner, image_id)
    return image_out(image_id, s.records.get(s.records.image_key(image_id)), *s.records.image_names(owner, [image_id]), sign=sign)


@router.get("/{image_id}/image.png", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}}, **error_responses(409)})
def get_model_image(s: ServicesDep, owner: OwnerDep, image_id: str) -> FileResponse:
    """The image as the model sees it (square, model resolution); 409 until encoded."""
    owned_image(s, owner, image_id)
    path = s.store.image_png(image_id)
    if not path.is_file():
        raise HTTPException(409, f"image {image_id} is not encoded yet")
    return FileResponse(path, media_type="image/png")


@router.get("/{image_id}/original", response_class=FileResponse,
            responses={200: {"content": {media: {} for media in (*FORMATS.values(), "application/octet-stream")}}})
def get_original(s: ServicesDep, owner: OwnerDep, image_id: str) -> FileResponse:
    """The uploaded bytes."""
    owned_image(s, owner, image_id)
    rec = s.records.get(s.records.image_key(image_id)) or {}
    path = s.store.original(image_id)
    if not path.is_file():
        raise HTTPException(404, f"image {image_id} not found in the store")
    return FileResponse(path, media_type=FORMATS.get(rec.get("format", ""), "application/octet-stream"))
