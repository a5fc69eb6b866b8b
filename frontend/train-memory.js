// What the Train page remembers in localStorage: the training it follows (its job id), so that a reload attaches to
// it again (a resume replaces it with the new job's id, a new training with its own), and the dataset last picked.

const TRAINING_KEY = "diffusegae.training";
const DATASET_KEY = "diffusegae.trainDataset";
const ID = /^[0-9a-zA-Z_-]+$/;

function read(key, storage) {
  try {
    const id = storage.getItem(key) || "";
    return ID.test(id) ? id : null;
  } catch {
    return null;
  }
}

function write(key, id, storage) {
  try {
    if (id) storage.setItem(key, id);
    else storage.removeItem(key);
  } catch {
    /* private mode: the page still works, it just forgets on reload */
  }
}

export const rememberedTraining = (storage = localStorage) => read(TRAINING_KEY, storage);
export const rememberTraining = (id, storage = localStorage) => write(TRAINING_KEY, id, storage);
export const rememberedDataset = (storage = localStorage) => read(DATASET_KEY, storage);
export const rememberDataset = (id, storage = localStorage) => write(DATASET_KEY, id, storage);
